// Migrations this code writes as well without (neededToWrite: false: 7 replica identity, 8
// the scope attributes' column, 9 and 10 the viewer's indexes) are applied each in a
// transaction of its own, after those it needs. In one transaction with the rest, one that
// could not be applied (a statement_timeout shorter than building an index, a table lock a
// long reader holds) kept back the column a writer needs, and the new code wrote nothing to
// a schema left at 7 (an attack: 0 of 1,200 spans, at every retry).
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, afterEach, expect, test } from 'vitest';
import { migrateSchema, PostgresSpanExporter } from '../../src/index.js';
import { bootstrapStatement, migrationStatements } from '../../src/postgres/migrate.js';
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
  await db.query(bootstrapStatement(schema));
  for (const migration of migrationStatements(schema).filter((m) => m.version <= version)) {
    await db.query(migration.sql);
    await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
  }
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

test('migrate (the command) fails on such a migration, those before it applied', async () => {
  const schema = await schemaAt('optional_migration_command', 7);
  const reader = await db.pool.connect();
  try {
    await reader.query(`BEGIN; SELECT count(*) FROM "${schema}".spans`);
    await expect(migrateSchema(db.pool, schema, { tableLockWaitMillis: 200 })).rejects.toMatchObject({ code: '55P03' });
    expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  } finally {
    await reader.query('ROLLBACK');
    reader.release();
  }
  expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [9, 10] });
});

test('with migrate: false, a schema without the scope attributes column is written to without it, and that is said once', async () => {
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
  } finally {
    await exporter.shutdown();
  }
  expect(await versionsOf(schema)).toEqual([1, 2, 3, 4, 5, 6, 7]);
});
