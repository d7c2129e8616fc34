// The exporter against what a database's operators do while it runs: a session that turned
// read-only (a standby during a failover; a setting the operator lifted since), a schema
// dropped under it, and a schema a DBA made for a role that may not create schemas.
import { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExportResultCode } from '@opentelemetry/core';
import { PostgresSpanExporter } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
const role = `otel_blackbox_owner_${process.pid}`;

beforeAll(async () => {
  schema = await db.freshSchema('sessions_and_schemas');
});
afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS "${schema}_owned" CASCADE`).catch(() => {});
  await db.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await db.close();
});

async function spanCount(name: string): Promise<number> {
  return (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${name}".spans`))[0]!.n;
}

test('a session that turned read-only is not used again: once the database is writable, the next batch commits', async () => {
  // Sessions made while `readOnly` is set are read-only for good, as a standby's are after
  // a failover, or a role's once an operator set default_transaction_read_only.
  let readOnly = false;
  // Set at the session's start (libpq's startup options), as a role's or a standby's setting is.
  class SessionsAsTheyCome extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, options: readOnly ? '-c default_transaction_read_only=on' : undefined });
    }
  }
  const pool = new pg.Pool({ connectionString: db.url, max: 1, Client: SessionsAsTheyCome });
  const exporter = new PostgresSpanExporter({ pool, schema });
  try {
    expect((await exportSpans(exporter, await traceOf(1, 'before'))).code).toBe(ExportResultCode.SUCCESS);
    // The idle connection goes; the next one is made read-only.
    await pool.query('SELECT pg_terminate_backend(pg_backend_pid())').catch(() => {});
    readOnly = true;
    const refused = await exportSpans(exporter, await traceOf(1, 'while read-only'));
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect((refused.error as { cause?: { code?: string } }).cause?.code).toBe('25006');
    readOnly = false;
    const after = await exportSpans(exporter, await traceOf(1, 'after'));
    expect(after.error?.message).toBeUndefined();
    expect(after.code).toBe(ExportResultCode.SUCCESS);
  } finally {
    await exporter.shutdown();
    await pool.end();
  }
  expect(await spanCount(schema)).toBe(2);
});

test('a schema dropped while the exporter runs is migrated again before the next batch', async () => {
  const dropped = `${schema}_dropped`;
  await db.query(`DROP SCHEMA IF EXISTS "${dropped}" CASCADE`);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema: dropped });
  try {
    expect((await exportSpans(exporter, await traceOf(1, 'first'))).code).toBe(ExportResultCode.SUCCESS);
    await db.query(`DROP SCHEMA "${dropped}" CASCADE`);
    const refused = await exportSpans(exporter, await traceOf(1, 'into the void'));
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect(refused.error?.message).toContain('it is migrated again before the next batch.');
    expect((await exportSpans(exporter, await traceOf(1, 'again'))).code).toBe(ExportResultCode.SUCCESS);
  } finally {
    await exporter.shutdown();
  }
  expect(await spanCount(dropped)).toBe(1);
  await db.query(`DROP SCHEMA "${dropped}" CASCADE`);
});

test("a role's statement_timeout of 10 ms: the exporter still writes to an up-to-date schema (its check of the schema ran under it, and failed on every fresh connection)", async () => {
  const name = `${schema}_short_timeout`;
  await db.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await migrateSchema(db.pool, name);
  // Set at each session's start, as a role's or a database's setting is.
  const pool = new pg.Pool({ connectionString: db.url, max: 2, options: '-c statement_timeout=10' });
  const exporter = new PostgresSpanExporter({ pool, schema: name });
  try {
    const result = await exportSpans(exporter, await traceOf(3, 'short timeout'));
    expect(result.error?.message).toBeUndefined();
    expect(result.code).toBe(ExportResultCode.SUCCESS);
  } finally {
    await exporter.shutdown();
    await pool.end();
  }
  expect(await spanCount(name)).toBe(3);
  await db.query(`DROP SCHEMA "${name}" CASCADE`);
});

test("the owner of a schema a DBA made, without CREATE on the database, migrates it and writes", async () => {
  const owned = `${schema}_owned`;
  await db.query(`DROP SCHEMA IF EXISTS "${owned}" CASCADE`);
  await db.query(`DROP ROLE IF EXISTS ${role}`);
  await db.query(`CREATE ROLE ${role} NOLOGIN`);
  await db.query(`CREATE SCHEMA "${owned}" AUTHORIZATION ${role}`);
  const pool = new pg.Pool({ connectionString: db.url, max: 2, options: `-c role=${role}` });
  const exporter = new PostgresSpanExporter({ pool, schema: owned });
  try {
    const result = await exportSpans(exporter, await traceOf(2, 'owned'));
    expect(result.error?.message).toBeUndefined();
    expect(result.code).toBe(ExportResultCode.SUCCESS);
  } finally {
    await exporter.shutdown();
    await pool.end();
  }
  expect(await spanCount(owned)).toBe(2);
  await db.query(`DROP SCHEMA "${owned}" CASCADE`);
  await db.query(`DROP ROLE ${role}`);
});

test('a table dropped by hand, its migration recorded: the batch says what is missing and what to do, and is not migrated again before every batch', async () => {
  const name = `${schema}_table_gone`;
  await db.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema: name });
  try {
    expect((await exportSpans(exporter, await traceOf(1, 'first'))).code).toBe(ExportResultCode.SUCCESS);
    await db.query(`DROP TABLE "${name}".spans`);
    expect((await exportSpans(exporter, await traceOf(1, 'refused'))).code).toBe(ExportResultCode.FAILED);
    const next = await exportSpans(exporter, await traceOf(1, 'told'));
    expect(next.code).toBe(ExportResultCode.FAILED);
    expect(next.error?.message).toContain(`Schema "${name}" lists every migration as applied, but its table spans is missing`);
    // Held back like any failed migration: the next batch is refused at once, saying when it is tried again.
    const held = await exportSpans(exporter, await traceOf(1, 'held'));
    expect(held.error?.message).toMatch(/tried again in/);
  } finally {
    await exporter.shutdown();
  }
  await db.query(`DROP SCHEMA "${name}" CASCADE`);
});

test("naming a caller's pool's destination opens no connection (a stream factory of its own is not called)", async () => {
  let streams = 0;
  const pool = new pg.Pool({
    connectionString: db.url,
    stream: () => {
      streams += 1;
      return new Socket();
    },
  } as pg.PoolConfig);
  const exporter = new PostgresSpanExporter({ pool, schema });
  expect(exporter.destination).toMatch(new RegExp(`^postgresql://[^@/]+:\\d+/[^?]+\\?schema=${schema}$`));
  expect(streams).toBe(0);
  await exporter.shutdown();
  await pool.end();
});
