// An exporter whose role writes to a schema it does not own (the owner migrates; the
// application's role may insert and update), left on `migrate: true`. A release that adds
// a migration made every such schema out of date, the role could not apply it (42501), and
// every batch failed, its advice "grant USAGE" to a role that had it (a re-run of the
// upgrade to migration 7: 0 of 1,000 spans). A migration this code writes as well without
// (neededToWrite: false) is now said and passed over; one it needs still fails, saying who
// must migrate.
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { migrateSchema, PostgresSpanExporter } from '../../src/index.js';
import { installMigrations } from '../helpers/installedMigrations.js';
import { collectDiag } from '../helpers/diagLines.js';
import { TestDatabase } from '../helpers/database.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { exportSpans, TEST_RESOURCE, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
const role = `otel_blackbox_writer_${process.pid}`;
const schemas: string[] = [];

beforeAll(async () => {
  await db.query(`DROP ROLE IF EXISTS ${role}`);
  await db.query(`CREATE ROLE ${role} NOLOGIN`);
});
afterEach(() => diag.disable());
afterAll(async () => {
  for (const schema of schemas) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.query(`DROP ROLE IF EXISTS ${role}`);
  await db.close();
});

/** A schema of the migrations `applied` takes, owned by the superuser, with the grants docs/postgres-exporter.md lists for a writer. */
async function schemaOf(label: string, applied: (version: number) => boolean): Promise<string> {
  const schema = await db.freshSchema(label);
  schemas.push(schema);
  await installMigrations(db, schema, applied);
  await db.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
  await db.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`);
  await db.query(`GRANT DELETE ON "${schema}".logs TO ${role}`);
  return schema;
}

async function exportAsWriter(schema: string, { withLogs = false, migrate = true } = {}) {
  const pool = new pg.Pool({ connectionString: db.url, max: 2, options: `-c role=${role}` });
  const exporter = new PostgresSpanExporter({ pool, schema, migrate });
  try {
    const spans = await traceOf(2, 'as the writer');
    if (!withLogs) return await exportSpans(exporter, spans);
    const logs = await logRecords([{ record: { body: 'a line as the writer' }, in: spans[0]!.spanContext() }], TEST_RESOURCE, { attributes: { tenant: 'acme' } });
    return await exportBatch(exporter, spans, logs);
  } finally {
    await exporter.shutdown();
    await pool.end();
  }
}

test('a schema that lacks only migrations this code writes without (7, 9, 10, 11): written to as it is, and said once', async () => {
  const lines = collectDiag();
  const schema = await schemaOf('writer_not_owner_7', (version) => ![7, 9, 10, 11].includes(version));
  const result = await exportAsWriter(schema);
  expect(result.error?.message).toBeUndefined();
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
  const said = lines.filter((line) => line.includes('may not migrate'));
  expect(said).toHaveLength(1);
  expect(said[0]).toContain('lacks migration 7 (replica_identity), 9 (error_spans_index), 10 (logs_outside_spans_index), 11 (crashes_by_end_index)');
  expect(said[0]).toContain(`npx otel-blackbox migrate --schema ${schema}`);
});

// An attack on the upgrade to migrations 8 to 10: with 8 needed to write, a role that may
// not migrate wrote nothing to a schema at 7, spans and all (0 of 800), for the sake of one
// column of log rows. The log rows are written without it until the owner migrates.
test('a schema at 7, the release before scope attributes: spans and log records written, without their scope attributes, and said', async () => {
  const lines = collectDiag();
  const schema = await schemaOf('writer_not_owner_at_7', (version) => version <= 7);
  const result = await exportAsWriter(schema, { withLogs: true });
  expect(result.error?.message).toBeUndefined();
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
  expect(await db.query(`SELECT body #>> '{}' AS body FROM "${schema}".logs WHERE kind = 'log'`)).toEqual([{ body: 'a line as the writer' }]);
  const said = lines.filter((line) => line.includes('may not migrate'));
  expect(said).toHaveLength(1);
  expect(said[0]).toContain('lacks migration 8 (log_scope_attributes), 9 (error_spans_index), 10 (logs_outside_spans_index)');
  expect(said[0]).toContain('log records without their scope attributes');
  // Once the owner has migrated, they are written with them.
  await db.query(`ALTER TABLE "${schema}".logs ADD COLUMN scope_attributes jsonb`);
  await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (8, 'log_scope_attributes')`);
  expect((await exportAsWriter(schema, { withLogs: true })).code).toBe(ExportResultCode.SUCCESS);
  expect(await db.query(`SELECT scope_attributes FROM "${schema}".logs WHERE kind = 'log' ORDER BY inserted_at`)).toEqual([{ scope_attributes: null }, { scope_attributes: { tenant: 'acme' } }]);
});

// migrate: false needs no SELECT on `migrations` (the grants the docs list): where the role
// has none, the exporter could not tell the schema lacked migration 8, named its column, and
// every batch with a log record failed for good, spans and all (a review).
test("migrate: false, a role that may not read migrations, a schema at 7: the log rows are written without the column, at once, and said", async () => {
  const lines = collectDiag();
  const schema = await schemaOf('writer_not_owner_unread', (version) => version <= 7);
  await db.query(`REVOKE ALL ON "${schema}".migrations FROM ${role}`);
  const result = await exportAsWriter(schema, { withLogs: true, migrate: false });
  expect(result.error?.message).toBeUndefined();
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
  expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log'`)).toBe(1);
  expect(lines.filter((line) => line.includes('has no logs.scope_attributes (migration 8)'))).toHaveLength(1);
});

// Where the role may not read `migrations`, whether the column is there is read from the
// catalog: read from `migrations`, an exporter that had found it missing never wrote it
// again once the owner had migrated (a review). Looked at again after 10 s (the exporter's
// first look-again delay; no test hook shortens it).
test('migrate: false, a role that may not read migrations: once the owner has migrated, log rows are written with their scope attributes again', async () => {
  const schema = await schemaOf('writer_not_owner_unread_then_migrated', (version) => version <= 7);
  await db.query(`REVOKE ALL ON "${schema}".migrations FROM ${role}`);
  const pool = new pg.Pool({ connectionString: db.url, max: 2, options: `-c role=${role}` });
  const exporter = new PostgresSpanExporter({ pool, schema, migrate: false });
  const exportLine = async (body: string) => {
    const spans = await traceOf(1, body);
    const logs = await logRecords([{ record: { body }, in: spans[0]!.spanContext() }], TEST_RESOURCE, { attributes: { tenant: 'acme' } });
    return (await exportBatch(exporter, spans, logs)).code;
  };
  try {
    expect(await exportLine('before the owner migrated')).toBe(ExportResultCode.SUCCESS);
    await migrateSchema(db.pool, schema);
    await expect.poll(async () => {
      expect(await exportLine('after the owner migrated')).toBe(ExportResultCode.SUCCESS);
      return db.count(`SELECT count(*) FROM "${schema}".logs WHERE scope_attributes IS NOT NULL`);
    }, { timeout: 30_000, interval: 1000 }).toBeGreaterThan(0);
    const rows = await db.query<{ body: string; scope_attributes: unknown }>(`SELECT body #>> '{}' AS body, scope_attributes FROM "${schema}".logs WHERE kind = 'log' ORDER BY inserted_at`);
    expect(rows[0]).toEqual({ body: 'before the owner migrated', scope_attributes: null });
    expect(rows.at(-1)).toEqual({ body: 'after the owner migrated', scope_attributes: { tenant: 'acme' } });
  } finally {
    await exporter.shutdown();
    await pool.end();
  }
});

test('one that lacks a migration this code needs: the batch fails, saying the owner must migrate, not to grant what the role has', async () => {
  const schema = await schemaOf('writer_not_owner_5', (version) => version <= 5);
  const result = await exportAsWriter(schema);
  expect(result.code).toBe(ExportResultCode.FAILED);
  expect(result.error?.message).toContain(`The role may not change the schema "${schema}": run \`npx otel-blackbox migrate --schema ${schema}\` as its owner`);
  expect(result.error?.message).not.toContain('Grant the exporter');
});
