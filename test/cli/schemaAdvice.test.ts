// The read commands against a schema without our tables, or a database they cannot reach.
// Before: `crashes` printed PostgreSQL's `relation "x.spans" does not exist` and nothing
// else, and `ui` printed its URL and served pages that each failed (an operator review).
import { afterAll, beforeAll, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();
let bare: string;

beforeAll(async () => {
  // A schema with no otel-blackbox tables: migrate was never run there.
  bare = await db.freshSchema('not_migrated');
});
afterAll(() => db.close());

function captured() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line), interactive: false } };
}

test('crashes against a schema without our tables says to migrate it', async () => {
  const result = await runCli({ DATABASE_URL: db.url }, 'crashes', '--schema', bare);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`schema "${bare}" has no otel-blackbox tables: create them with otel-blackbox migrate --schema ${bare}, or check --schema and --database`);
});

test('ui against a schema without our tables exits 1 with the same advice, without listening', async () => {
  const { out, err, io } = captured();
  expect(await main(['ui', '--database', db.url, '--schema', bare, '--port', '0'], io)).toBe(1);
  expect(out).toEqual([]);
  expect(err.join('\n')).toContain(`create them with otel-blackbox migrate --schema ${bare}`);
});

test('ui against a schema older than it (before migration 5) exits 1 saying to migrate it, without listening', async () => {
  const old = await db.freshSchema('older_than_viewer');
  await migrateSchema(db.pool, old);
  await db.query(`ALTER TABLE "${old}".spans DROP COLUMN parent_is_remote`);
  const { out, err, io } = captured();
  expect(await main(['ui', '--database', db.url, '--schema', old, '--port', '0'], io)).toBe(1);
  expect(out).toEqual([]);
  expect(err.join('\n')).toContain(`the schema "${old}" lacks columns this otel-blackbox reads: if otel-blackbox made it, it is older than this version (bring it up to date with otel-blackbox migrate --schema ${old}); otherwise check --schema and --database`);
});

test('ui against a database it cannot reach exits 1 naming it, without listening', async () => {
  const { out, err, io } = captured();
  expect(await main(['ui', '--database', 'postgres://otel:secret@127.0.0.1:1/otel', '--port', '0'], io)).toBe(1);
  expect(out).toEqual([]);
  expect(err.join('\n')).toMatch(/otel-blackbox ui: cannot query .*127\.0\.0\.1:1/);
  expect(err.join('\n')).not.toContain('secret');
});
