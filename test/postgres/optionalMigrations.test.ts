// Migrations this code writes as well without (neededToWrite: false: 7 replica identity, 8
// the scope attributes' column, 9 to 11 the viewer's indexes) are applied each in a
// transaction of its own, after those it needs. In one transaction with the rest, one that
// could not be applied (a statement_timeout shorter than building an index, a table lock a
// long reader holds) kept back the column a writer needs, and the new code wrote nothing to
// a schema left at 7 (an attack: 0 of 1,200 spans, at every retry).
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import pg from 'pg';
import { afterAll, afterEach, expect, test } from 'vitest';
import { migrateSchema, MigrationsIncompleteError, PostgresSpanExporter } from '../../src/index.js';
import { migrationLock } from '../../src/postgres/migrate.js';
import { installMigrations } from '../helpers/installedMigrations.js';
import { collectDiag } from '../helpers/diagLines.js';
import { TestDatabase } from '../helpers/database.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { TEST_RESOURCE, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
afterEach(() => diag.disable());
afterAll(() => db.close());

/** A schema at `version`, as that release's migrations left it. */
async function schemaAt(label: string, version: number): Promise<string> {
  const schema = await db.freshSchema(label);
  await installMigrations(db, schema, (v) => v <= version);
  return schema;
}

const versionsOf = async (schema: string) => (await db.query<{ version: number }>(`SELECT version FROM "${schema}".migrations ORDER BY version`)).map((row) => row.version);

/** Two spans and a log record with scope attributes, exported until a batch commits (the first may spend its deadline on a lock). */
async function exportUntilWritten(exporter: PostgresSpanExporter) {
  const spans = await traceOf(2, 'optional migrations');
  const logs = await logRecords([{ record: { body: 'written all the same' }, in: spans[0]!.spanContext() }], TEST_RESOURCE, { attributes: { tenant: 'acme' } });
  for (let attempt = 0; attempt < 5; attempt++) {
    const result = await exportBatch(exporter, spans, logs);
    if (result.code === ExportResultCode.SUCCESS) return attempt + 1;
  }
  throw new Error('never written');
}

test('index migrations held off by a long reader of spans are left for later: the column a writer needs is applied, and spans and log records are written', async () => {
  const lines = collectDiag();
  const schema = await schemaAt('optional_migration_lock', 7);
  const reader = await db.pool.connect();
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, exportTimeoutMillis: 1500 });
  try {
    // A report reading spans in a transaction left open: migrations 9 and 11 cannot lock the table.
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    await exportUntilWritten(exporter);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
    expect(await db.query(`SELECT scope_attributes FROM "${schema}".logs WHERE kind = 'log'`)).toEqual([{ scope_attributes: { tenant: 'acme' } }]);
    const said = lines.filter((line) => line.includes('lacks migration'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('lacks migration 9 (error_spans_index), 11 (crashes_by_end_index), which could not be applied');
    expect(said[0]).toContain(`npx otel-blackbox migrate --schema ${schema}`);
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
    await exporter.shutdown();
  }
  // The reader gone, the operator's migrate applies them.
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [9, 11] });
});

test('migrateSchema (and the command) applies the others, and fails naming both', async () => {
  const schema = await schemaAt('optional_migration_command', 7);
  const reader = await db.pool.connect();
  try {
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    const failed = await migrateSchema(db.pool, schema, { tableLockWaitMillis: 200 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(MigrationsIncompleteError);
    expect(failed).toMatchObject({ code: '55P03', applied: [8, 10], failed: [expect.objectContaining({ version: 9 }), expect.objectContaining({ version: 11 })] });
    expect((failed as Error).message).toMatch(/^schema "[^"]+": applied migrations 8, 10; migration 9 \(error_spans_index\), 11 \(crashes_by_end_index\) not applied: /);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
  }
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [9, 11] });
});

// Two things to mend, said as one: the message named the first failure only, with every
// migration kept back, the second's among them (the CLI's hint likewise).
test('two failures of their own: each said once, with the migrations it kept back', async () => {
  const schema = await schemaAt('optional_migration_two_failures', 7);
  // Someone added migration 8's column by hand; a report reads spans meanwhile.
  await db.query(`ALTER TABLE "${schema}".logs ADD COLUMN scope_attributes jsonb`);
  const reader = await db.pool.connect();
  try {
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    const failed = await migrateSchema(db.pool, schema, { tableLockWaitMillis: 200 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(MigrationsIncompleteError);
    expect(failed).toMatchObject({ code: '42701', applied: [10], failed: [8, 9, 11].map((version) => expect.objectContaining({ version })) });
    expect((failed as Error).message).toBe(
      `schema "${schema}": applied migrations 10; migration 8 (log_scope_attributes) not applied: column "scope_attributes" of relation "logs" already exists; ` +
        'migration 9 (error_spans_index), 11 (crashes_by_end_index) not applied: canceling statement due to lock timeout',
    );
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
  }
});

// An index of a large spans table built by the migration holds writers back while it is
// built; built beforehand CONCURRENTLY, as the docs say, the migration records it.
test('an index built beforehand with CREATE INDEX CONCURRENTLY is recorded as applied, not built again', async () => {
  const schema = await schemaAt('optional_migration_index_beforehand', 10);
  await db.query(
    `CREATE INDEX CONCURRENTLY spans_crashes_by_end_idx ON "${schema}".spans (end_time_unix_nano DESC NULLS LAST, trace_id DESC, span_id DESC) WHERE state = 'crashed'`,
  );
  const indexOid = `SELECT to_regclass($1)::oid::text AS oid`;
  const [before] = await db.query<{ oid: string }>(indexOid, [`"${schema}".spans_crashes_by_end_idx`]);
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [11] });
  expect(await db.query(indexOid, [`"${schema}".spans_crashes_by_end_idx`])).toEqual([before]);
  expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

// A concurrent build that failed leaves an invalid index of the name: recorded, no query
// used it and no migration came back to it (a review: a page of crashes 0.1 ms -> 74 ms).
test('an invalid index of the name (a concurrent build that failed) fails the migration, saying to drop it', async () => {
  const schema = await schemaAt('optional_migration_invalid_index', 10);
  await db.query(`INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano) VALUES ('a1', 'b1', 'x', 'SERVER', 'ended', now(), 1), ('a1', 'b2', 'x', 'SERVER', 'ended', now(), 1)`);
  // Unique over two equal rows: the build fails, and leaves its index behind, invalid.
  await expect(db.query(`CREATE UNIQUE INDEX CONCURRENTLY spans_crashes_by_end_idx ON "${schema}".spans (state)`)).rejects.toThrow(/could not create unique index/);
  const failed = await migrateSchema(db.pool, schema).catch((error: unknown) => error);
  expect(failed).toBeInstanceOf(MigrationsIncompleteError);
  expect(failed).toMatchObject({ code: '55000', applied: [], failed: [expect.objectContaining({ version: 11 })] });
  expect((failed as Error).message).toContain(`index spans_crashes_by_end_idx of schema ${schema} is invalid (a CREATE INDEX CONCURRENTLY that failed): drop it, then migrate again`);
  await db.query(`DROP INDEX "${schema}".spans_crashes_by_end_idx`);
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [11] });
});

// An index of the name that reads by other columns, another order or another predicate (a
// typo in the statement built by hand, the definition of a release before) was recorded as
// applied, and no list read by it (a review). It now fails the migration as an invalid one
// does, naming both definitions; one built exactly as the migration would, in other words
// (no IF NOT EXISTS, another spelling of the predicate), is recorded.
test('an index of the name with another definition fails the migration, saying what it is and what it should be', async () => {
  const schema = await schemaAt('optional_migration_other_index', 8);
  await db.query(`CREATE INDEX CONCURRENTLY spans_error_idx ON "${schema}".spans (trace_id) WHERE status_code = 'OK'`);
  await db.query(`CREATE INDEX CONCURRENTLY spans_crashes_by_end_idx ON "${schema}".spans (end_time_unix_nano, trace_id, span_id) WHERE state = 'crashed'`);
  await db.query(`CREATE INDEX CONCURRENTLY logs_outside_spans_idx ON "${schema}".logs USING btree ("time") WHERE (((kind)::text = 'log'::text) AND ((trace_id IS NULL) OR (NOT ((COALESCE(trace_flags, 1) & 1) = 1))))`);
  const failed = await migrateSchema(db.pool, schema).catch((error: unknown) => error);
  expect(failed).toBeInstanceOf(MigrationsIncompleteError);
  expect(failed).toMatchObject({ code: '55000', applied: [10], failed: [9, 11].map((version) => expect.objectContaining({ version })) });
  const message = (failed as Error).message;
  expect(message).toContain(`index spans_error_idx of schema ${schema} is not the one migration 9 builds: it is btree (trace_id) WHERE (status_code = 'OK'::text), not btree (trace_id) WHERE (status_code = 'ERROR'::text): drop it, then migrate again`);
  expect(message).toContain(`index spans_crashes_by_end_idx of schema ${schema} is not the one migration 11 builds`);
  expect(message).toContain('(end_time_unix_nano DESC NULLS LAST, trace_id DESC, span_id DESC)');
  expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
  await db.query(`DROP INDEX "${schema}".spans_error_idx, "${schema}".spans_crashes_by_end_idx`);
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [9, 11] });
  expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});

// The comparison builds its reference on a temporary table. A database that grants no
// TEMP (REVOKE TEMP ... FROM PUBLIC, a hardening guide's advice) must still be migrated by
// the schema's owner: there the definition goes unchecked, as before.
test('a role that may not create temporary tables migrates as before, the definitions unchecked', async () => {
  const name = `wt_no_temp_${process.pid}_${Date.now()}`;
  const role = `otel_blackbox_no_temp_${process.pid}`;
  const url = new URL(db.url);
  url.pathname = `/${name}`;
  await db.query(`CREATE DATABASE ${name}`);
  const owner = new pg.Pool({ connectionString: url.toString(), max: 1 });
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2, options: `-c role=${role}` });
  try {
    await owner.query(`REVOKE TEMP ON DATABASE ${name} FROM PUBLIC`);
    await owner.query(`DROP ROLE IF EXISTS ${role}`);
    await owner.query(`CREATE ROLE ${role} NOLOGIN`);
    await owner.query(`CREATE SCHEMA otel AUTHORIZATION ${role}`);
    expect((await pool.query(`SELECT has_database_privilege(current_database(), 'TEMP') AS temp`)).rows).toEqual([{ temp: false }]);
    expect(await migrateSchema(pool, 'otel')).toEqual({ applied: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] });
    await pool.query(`DROP INDEX otel.spans_error_idx`);
    await pool.query(`CREATE INDEX spans_error_idx ON otel.spans (trace_id) WHERE status_code = 'OK'`);
    await pool.query(`DELETE FROM otel.migrations WHERE version = 9`);
    expect(await migrateSchema(pool, 'otel')).toEqual({ applied: [9] });
  } finally {
    await pool.end();
    await owner.end();
    await db.query(`DROP DATABASE IF EXISTS ${name}`);
    await db.query(`DROP ROLE IF EXISTS ${role}`);
  }
});

// Each migration on a table whose lock was not had waited as long again: four waits of 3 s
// outlived the first batch's deadline (a review). One wait a table now, and the first
// batch is written; the migrations held off are tried again later, and applied once the
// reader has gone: migration 8's column was never written again by the process before.
test('a long reader of logs at start: one wait, the first batch written, and migrations 7, 8 and 10 applied once it has gone', async () => {
  const lines = collectDiag();
  const schema = await schemaAt('optional_migration_reader_logs', 6);
  const reader = await db.pool.connect();
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, exportTimeoutMillis: 5000 });
  try {
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".logs`);
    expect(await exportUntilWritten(exporter)).toBe(1);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 9, 11]);
    expect(await db.query(`SELECT scope_attributes FROM "${schema}".logs`).catch((error: Error) => error.message)).toMatch(/scope_attributes/);
    expect(lines.filter((line) => line.includes('lacks migration 7 (replica_identity), 8 (log_scope_attributes), 10 (logs_outside_spans_index), which could not be applied'))).toHaveLength(1);
    await reader.query('ROLLBACK');
    // Looked at again within seconds: the migrations applied, the column written.
    await expect.poll(async () => {
      await exportUntilWritten(exporter);
      return db.count(`SELECT count(*) FROM "${schema}".logs WHERE scope_attributes IS NOT NULL`).catch(() => 0);
    }, { timeout: 60_000, interval: 1000 }).toBeGreaterThan(0);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(lines.filter((line) => line.includes('lacks migration'))).toHaveLength(1);
  } finally {
    await reader.query('ROLLBACK').catch(() => {});
    reader.release();
    await exporter.shutdown();
  }
});

test('with migrate: false, a schema without the scope attributes column is written to without it, said once, and with it once the owner has migrated', async () => {
  const lines = collectDiag();
  const schema = await schemaAt('optional_migration_not_migrating', 7);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
  try {
    expect(await exportUntilWritten(exporter)).toBe(1);
    expect(await exportUntilWritten(exporter)).toBe(1);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log'`)).toBe(2);
    const said = lines.filter((line) => line.includes('lacks migration'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('lacks migration 8 (log_scope_attributes), 9 (error_spans_index), 10 (logs_outside_spans_index), 11 (crashes_by_end_index), and the exporter has migrate: false');
    expect(said[0]).toContain('log records without their scope attributes');
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // The owner migrates while it runs: looked at again within seconds, the column written.
    await migrateSchema(db.pool, schema);
    await expect.poll(async () => {
      await exportUntilWritten(exporter);
      return db.count(`SELECT count(*) FROM "${schema}".logs WHERE scope_attributes IS NOT NULL`);
    }, { timeout: 60_000, interval: 1000 }).toBeGreaterThan(0);
  } finally {
    await exporter.shutdown();
  }
});

// The column gone behind the exporter's back (a schema restored from a dump without it,
// whose `migrations` lists 8): each batch in flight, bound with it, is written again at
// once without it. Bound before another had switched, 3 of 4 concurrent batches failed,
// for as long as it ran, and the schema was switched back each time (a review).
test('logs.scope_attributes dropped while batches run: every batch in flight written without it, said once', async () => {
  const lines = collectDiag();
  const schema = await schemaAt('optional_migration_column_dropped', 10);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    await exportUntilWritten(exporter);
    await db.query(`ALTER TABLE "${schema}".logs DROP COLUMN scope_attributes`);
    const results = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const spans = await traceOf(2, `in flight ${i}`);
        const logs = await logRecords([{ record: { body: `line ${i}` }, in: spans[0]!.spanContext() }], TEST_RESOURCE, { attributes: { tenant: 'acme' } });
        return exportBatch(exporter, spans, logs);
      }),
    );
    expect(results.map((result) => result.code)).toEqual(Array(4).fill(ExportResultCode.SUCCESS));
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log'`)).toBe(5);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(10);
    expect(lines.filter((line) => line.includes('has no logs.scope_attributes (migration 8)'))).toHaveLength(1);
  } finally {
    await exporter.shutdown();
  }
});

/** A pool whose connections keep the text of each statement they send, in order, one list a connection. */
function recordingPool(url: string): { pool: pg.Pool; sent: string[][] } {
  const sent: string[][] = [];
  class RecordingClient extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super(config);
      const mine: string[] = [];
      sent.push(mine);
      const query = this.query.bind(this) as (...args: unknown[]) => unknown;
      this.query = ((...args: unknown[]) => {
        const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: unknown } | undefined)?.text;
        if (typeof text === 'string') mine.push(text);
        return query(...args);
      }) as pg.Client['query'];
    }
  }
  return { pool: new pg.Pool({ connectionString: url, Client: RecordingClient }), sent };
}

/** Each LOCK TABLE sent, with the lock_timeout its transaction had set last before it. */
function lockWaits(sent: string[][]): { lock: string; lockTimeout: number }[] {
  return sent.flatMap((statements) => {
    let lockTimeout = NaN;
    return statements.flatMap((text) => {
      const set = /SET LOCAL lock_timeout = (\d+)/.exec(text);
      if (set) lockTimeout = Number(set[1]);
      return text.startsWith('LOCK TABLE') ? [{ lock: text, lockTimeout }] : [];
    });
  });
}

// Writers of every process queue behind a waiting ACCESS EXCLUSIVE request: at 3 s, each
// look again held every batch behind a long reader for 3 s (a review). A wait's length is
// not asserted (the machine is shared); the lock_timeout each table lock was asked under is.
test('the exporter asks for an optional migration\'s table lock with lock_timeout 500 ms, the one a long reader holds included', async () => {
  const schema = await schemaAt('optional_migration_lock_wait', 7);
  const reader = await db.pool.connect();
  const { pool, sent } = recordingPool(db.url);
  const exporter = new PostgresSpanExporter({ pool, schema, exportTimeoutMillis: 5000 });
  try {
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    expect(await exportUntilWritten(exporter)).toBe(1);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
    expect(lockWaits(sent)).toEqual([8, 9, 10].map((version) => ({
      lock: `LOCK TABLE "${schema}".${version === 9 ? 'spans' : 'logs'} IN ACCESS EXCLUSIVE MODE`,
      lockTimeout: 500,
    })));
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
    await exporter.shutdown();
    await pool.end();
  }
});

// Migration 7 applied, and another process's migration then holding the schema's lock:
// MigrationUnderWayError says "nothing was changed", and the message of the error that
// names it said so too, after migration 7 had been applied (a review).
test('another process migrating after migration 7 was applied: the error names it, and does not say nothing was changed', async () => {
  const schema = await schemaAt('optional_migration_under_way', 6);
  const reader = await db.pool.connect();
  const other = await db.pool.connect();
  try {
    // Migration 7 waits for the reader's logs, holding the schema's lock; the other
    // process queues for that lock, and has it once 7 is committed, before 8 asks.
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".logs`);
    const failed = migrateSchema(db.pool, schema, { lockTimeoutMillis: 4000, tableLockWaitMillis: 4000 }).catch((error: unknown) => error);
    await expect.poll(() => db.count(`SELECT count(*) FROM pg_locks WHERE relation = to_regclass($1) AND NOT granted`, [`"${schema}".logs`])).toBe(1);
    const otherPid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await other.query('BEGIN');
    const otherHolds = other.query('SELECT pg_advisory_xact_lock($1, $2)', migrationLock(schema));
    await expect.poll(() => db.count(`SELECT count(*) FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted`, [otherPid])).toBe(1);
    await reader.query('ROLLBACK');
    await otherHolds;
    const error = await failed;
    expect(error).toBeInstanceOf(MigrationsIncompleteError);
    expect(error).toMatchObject({ code: '55P03', applied: [7], failed: [8, 9, 10, 11].map((version) => expect.objectContaining({ version })) });
    expect((error as Error).message).toBe(
      `schema "${schema}": applied migrations 7; migration 8 (log_scope_attributes), 9 (error_spans_index), 10 (logs_outside_spans_index), 11 (crashes_by_end_index) not applied: another process is migrating schema "${schema}"`,
    );
    expect((error as Error).message).not.toContain('nothing was changed');
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  } finally {
    await reader.query('ROLLBACK').catch(() => {});
    await other.query('ROLLBACK').catch(() => {});
    reader.release();
    other.release();
  }
});
