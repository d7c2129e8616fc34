// Migrations this code writes as well without (neededToWrite: false: 7 replica identity, 8
// the scope attributes' column, 9 and 10 the viewer's indexes) are applied each in a
// transaction of its own, after those it needs. In one transaction with the rest, one that
// could not be applied (a statement_timeout shorter than building an index, a table lock a
// long reader holds) kept back the column a writer needs, and the new code wrote nothing to
// a schema left at 7 (an attack: 0 of 1,200 spans, at every retry).
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, afterEach, expect, test } from 'vitest';
import { migrateSchema, MigrationsIncompleteError, PostgresSpanExporter } from '../../src/index.js';
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

test('an index migration held off by a long reader of spans is left for later: the column a writer needs is applied, and spans and log records are written', async () => {
  const lines = collectDiag();
  const schema = await schemaAt('optional_migration_lock', 7);
  const reader = await db.pool.connect();
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, exportTimeoutMillis: 1500 });
  try {
    // A report reading spans in a transaction left open: migration 9 cannot lock the table.
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    await exportUntilWritten(exporter);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
    expect(await db.query(`SELECT scope_attributes FROM "${schema}".logs WHERE kind = 'log'`)).toEqual([{ scope_attributes: { tenant: 'acme' } }]);
    const said = lines.filter((line) => line.includes('lacks migration'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain('lacks migration 9 (error_spans_index), which could not be applied');
    expect(said[0]).toContain(`npx otel-blackbox migrate --schema ${schema}`);
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
    await exporter.shutdown();
  }
  // The reader gone, the operator's migrate applies it.
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [9] });
});

test('migrateSchema (and the command) applies the others, and fails naming both', async () => {
  const schema = await schemaAt('optional_migration_command', 7);
  const reader = await db.pool.connect();
  try {
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    const failed = await migrateSchema(db.pool, schema, { tableLockWaitMillis: 200 }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(MigrationsIncompleteError);
    expect(failed).toMatchObject({ code: '55P03', applied: [8, 10], failed: [expect.objectContaining({ version: 9 })] });
    expect((failed as Error).message).toMatch(/^schema "[^"]+": applied migrations 8, 10; migration 9 \(error_spans_index\) not applied: /);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 10]);
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
  }
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [9] });
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
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 9]);
    expect(await db.query(`SELECT scope_attributes FROM "${schema}".logs`).catch((error: Error) => error.message)).toMatch(/scope_attributes/);
    expect(lines.filter((line) => line.includes('lacks migration 7 (replica_identity), 8 (log_scope_attributes), 10 (logs_outside_spans_index), which could not be applied'))).toHaveLength(1);
    await reader.query('ROLLBACK');
    // Looked at again within seconds: the migrations applied, the column written.
    await expect.poll(async () => {
      await exportUntilWritten(exporter);
      return db.count(`SELECT count(*) FROM "${schema}".logs WHERE scope_attributes IS NOT NULL`).catch(() => 0);
    }, { timeout: 60_000, interval: 1000 }).toBeGreaterThan(0);
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
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
    expect(said[0]).toContain('lacks migration 8 (log_scope_attributes), 9 (error_spans_index), 10 (logs_outside_spans_index), and the exporter has migrate: false');
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
