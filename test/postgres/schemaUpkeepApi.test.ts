// The schema's upkeep from code, through the package's entry point: migrateSchema,
// pruneSchema and migrationScript do what `otel-blackbox migrate` and `prune` do, on the
// caller's own pool, which they leave open; options they cannot use reject with a sentence
// naming the option before any connection is made.
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { InvalidOptionError, MigrationUnderWayError, migrateSchema, migrationScript, PostgresSpanExporter, pruneSchema, SchemaTooNewError } from '../../src/index.js';
import { migrationLock } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { recordSpans } from './spanFixtures.js';

const db = new TestDatabase();
const DAY = 24 * 3600 * 1000;

afterAll(() => db.close());

describe('migrateSchema', () => {
  test('creates every table on a new schema, applies nothing the second time, and leaves the pool open', async () => {
    const schema = await db.freshSchema('upkeep_migrate');
    const first = await migrateSchema(db.pool, schema);
    expect(first.applied).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const tables = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema],
    );
    expect(tables.map((row) => row.table_name)).toEqual(['dead_letters', 'logs', 'migrations', 'spans', 'traces']);
    expect(await migrateSchema(db.pool, schema, { tableLockWaitMillis: 5000 })).toEqual({ applied: [] });
    expect(await db.count('SELECT 1 AS count')).toBe(1);
  });

  test('a schema a newer otel-blackbox migrated is refused with SchemaTooNewError', async () => {
    const schema = await db.freshSchema('upkeep_newer');
    await migrateSchema(db.pool, schema);
    await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (999, 'from the future')`);
    await expect(migrateSchema(db.pool, schema)).rejects.toBeInstanceOf(SchemaTooNewError);
  });

  test("past lockTimeoutMillis behind another process's migration, it fails with MigrationUnderWayError, nothing changed", async () => {
    const schema = await db.freshSchema('upkeep_under_way');
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1, $2)', migrationLock(schema));
      const error = await migrateSchema(db.pool, schema, { lockTimeoutMillis: 200 }).then(() => undefined, (failure: Error) => failure);
      expect(error).toBeInstanceOf(MigrationUnderWayError);
      expect((error as Error).message).toBe(`another process is migrating schema "${schema}": its migration lock was not free within 200 ms; nothing was changed`);
      expect((error as { code?: string }).code).toBe('55P03');
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
    expect(await db.count(`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, [schema])).toBe(0);
    expect((await migrateSchema(db.pool, schema, { lockTimeoutMillis: 200 })).applied).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test('options it cannot use reject, naming the option, before it connects', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error) => error);
      const cases: [() => Promise<unknown>, RegExp][] = [
        [() => migrateSchema(undefined as unknown as pg.Pool, 'otel'), /Invalid option pool: expected a pg\.Pool \(not a pg\.Client: pass the pool\), got undefined/],
        [() => migrateSchema('postgres://x' as unknown as pg.Pool, 'otel'), /Invalid option pool/],
        [() => migrateSchema(pool, 'Otel'), /Invalid option schema: expected a plain lowercase identifier/],
        [() => migrateSchema(pool, 'otel', { lockWait: 10 } as never), /Invalid option lockWait: migrateSchema has no option of that name/],
        [() => migrateSchema(pool, 'otel', { tableLockWaitMillis: -1 }), /Invalid option tableLockWaitMillis: expected a positive integer of milliseconds/],
        [() => migrateSchema(pool, 'otel', { lockTimeoutMillis: 1.5 }), /Invalid option lockTimeoutMillis/],
        [() => pruneSchema(pool, 'otel', undefined as never), /Invalid option options: expected an object with olderThan/],
        [() => pruneSchema(pool, 'otel', { olderThan: '7d' as unknown as Date }), /Invalid option olderThan: expected a valid Date, got "7d"/],
        [() => pruneSchema(pool, 'otel', { olderThan: new Date(Number.NaN) }), /Invalid option olderThan: expected a valid Date, got a Date/],
        // A Date PostgreSQL cannot store failed after connecting, with the server's "timestamp out of range" (a review).
        [() => pruneSchema(pool, 'otel', { olderThan: new Date(-8.64e15) }), /Invalid option olderThan: expected a valid Date from 4713 BC on \(PostgreSQL's range\), got a Date/],
        [() => pruneSchema(pool, 'otel', { olderThan: new Date(), batch: 0 }), /Invalid option batch: expected a positive integer/],
        [() => pruneSchema(pool, 'otel', { olderThan: new Date(), dryRun: 'yes' as unknown as boolean }), /Invalid option dryRun: expected true or false/],
        [() => pruneSchema(pool, 'otel', { olderthan: new Date() } as never), /Invalid option olderthan: pruneSchema has no option of that name \(did you mean olderThan\?\)/],
        [() => pruneSchema({} as pg.Pool, 'otel', { olderThan: new Date() }), /Invalid option pool/],
        // A Client has connect() and query() too: taken for a pool, the migrations were committed, then release() failed.
        [() => migrateSchema(new pg.Client({ connectionString: db.url }) as unknown as pg.Pool, 'otel'), /Invalid option pool: expected a pg\.Pool \(not a pg\.Client: pass the pool\), got a Client/],
      ];
      for (const [call, message] of cases) {
        const error = await rejection(call());
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as Error).message).toMatch(message);
      }
      expect(pool.totalCount).toBe(0);
    } finally {
      await pool.end();
    }
  });
});

test('migrationScript is the whole script for a new schema, and applying it leaves migrateSchema nothing to do', async () => {
  const schema = await db.freshSchema('upkeep_script');
  const script = migrationScript(schema);
  expect(script).toMatch(/^-- otel-blackbox migrations 1 to 11/);
  expect(script).toContain(`CREATE TABLE "${schema}".spans`);
  await db.query(script);
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [] });
  expect(() => migrationScript('no-such name')).toThrow(/Invalid option schema/);
});

test('pruneSchema removes a trace older than the cutoff and keeps a newer one; dryRun only counts', async () => {
  const schema = await db.freshSchema('upkeep_prune');
  await migrateSchema(db.pool, schema);
  const exporter = new PostgresSpanExporter({ pool: db.pool, schema });
  const at = (daysAgo: number, name: string) =>
    recordSpans((tracer) => {
      const start = Date.now() - daysAgo * DAY;
      const span = tracer.startSpan(name, { startTime: start }, ROOT_CONTEXT);
      span.addEvent('step', {}, start + 1);
      span.end(start + 2);
    });
  const spans = [...(await at(10, 'old')), ...(await at(1, 'recent'))];
  const result = await new Promise<{ code: ExportResultCode }>((resolve) => exporter.export(spans, resolve));
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  await exporter.shutdown();

  const olderThan = new Date(Date.now() - 7 * DAY);
  expect(await pruneSchema(db.pool, schema, { olderThan, dryRun: true })).toEqual({
    traces: 1, spans: 1, spanEvents: 1, logRecords: 0, logRecordsOutsideSpans: 0, deadLetters: 0,
  });
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
  expect(await pruneSchema(db.pool, schema, { olderThan, batch: 10 })).toEqual({
    traces: 1, spans: 1, spanEvents: 1, logRecords: 0, logRecordsOutsideSpans: 0, deadLetters: 0,
  });
  expect((await db.query<{ name: string }>(`SELECT name FROM "${schema}".spans`)).map((row) => row.name)).toEqual(['recent']);
  expect(await db.count(`SELECT count(*) FROM "${schema}".traces`)).toBe(1);
  expect(await db.count(`SELECT count(*) FROM "${schema}".logs`)).toBe(1);
});
