// What `otel-blackbox migrate` advises after a failure: one hint for each kind of failure
// among the migrations not applied (a table lock and a statement_timeout are two things to
// mend: the first alone was said), each once, and "nothing was changed" only where true.
// The failures themselves are PostgreSQL's, made real in cli.test.ts and optionalMigrations.
import { expect, test } from 'vitest';
import { failureHints } from '../../src/cli/commands/migrateCommand.js';
import { MigrationsIncompleteError, MigrationUnderWayError, type DeferredMigration } from '../../src/postgres/migrate.js';

const withCode = (code: string, message: string) => Object.assign(new Error(message), { code });
const lockTimeout = withCode('55P03', 'canceling statement due to lock timeout');
const statementTimeout = withCode('57014', 'canceling statement due to statement timeout');
const deferred = (version: number, error: unknown): DeferredMigration => ({ version, name: `m${version}`, tables: ['spans'], error });

test('a lock and a statement_timeout: both hints, each once', () => {
  const error = new MigrationsIncompleteError('otel', [8], [deferred(9, statementTimeout), deferred(10, lockTimeout), deferred(11, lockTimeout)]);
  expect(error.message).toBe(
    'schema "otel": applied migrations 8; migration 9 (m9) not applied: canceling statement due to statement timeout; migration 10 (m10), 11 (m11) not applied: canceling statement due to lock timeout',
  );
  expect(failureHints(error)).toBe(
    " (a statement_timeout cancelled it: run it again with a longer one, e.g. PGOPTIONS='-c statement_timeout=0')" +
      ' (another session held one of its tables longer than --lock-wait; run it again, or allow a longer wait)',
  );
});

test('"nothing was changed" where no migration was applied, and not where one was', () => {
  expect(failureHints(lockTimeout)).toContain('nothing was changed');
  expect(failureHints(new MigrationsIncompleteError('otel', [], [deferred(9, lockTimeout)]))).toContain('nothing was changed');
  expect(failureHints(new MigrationsIncompleteError('otel', [7], [deferred(9, lockTimeout)]))).not.toContain('nothing was changed');
});

test("another process's migration: its own hint, not the table lock's, though its code is 55P03", () => {
  const underWay = new MigrationUnderWayError('otel', undefined, lockTimeout);
  expect(failureHints(underWay)).toBe(' (run it again once that migration has ended; the role or database sets a lock_timeout)');
  expect(failureHints(new MigrationsIncompleteError('otel', [7], [deferred(8, underWay), deferred(9, underWay)]))).toBe(failureHints(underWay));
});

test("a role that may not change the schema: run it as the schema's owner", () => {
  const notOwner = withCode('42501', 'must be owner of table spans');
  expect(failureHints(new MigrationsIncompleteError('otel', [8], [deferred(9, notOwner), deferred(11, notOwner)]))).toBe(
    " (the role may not change the schema: run it as the schema's owner, e.g. --database with that role)",
  );
});

test('a failure with no advice (a column made by hand): no hint', () => {
  expect(failureHints(withCode('42701', 'column "scope_attributes" of relation "logs" already exists'))).toBe('');
});
