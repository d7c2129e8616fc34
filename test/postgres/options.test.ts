// Options: bad values throw a sentence naming the option; defaults and environment; the
// exporter's lifecycle (shutdown twice, export after shutdown, a pool of the caller's own).
import { ExportResultCode } from '@opentelemetry/core';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../src/options/validate.js';
import { PostgresSpanExporter, type PostgresSpanExporterOptions } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();

afterEach(() => {
  vi.unstubAllEnvs();
});

afterAll(async () => {
  await db.close();
});

describe('invalid options', () => {
  const pool = new pg.Pool();
  afterAll(() => pool.end());

  it.each<{ option: string; options: PostgresSpanExporterOptions }>([
    { option: 'schema', options: { schema: 'Otel' } },
    { option: 'schema', options: { schema: 'otel; DROP TABLE x' } },
    { option: 'schema', options: { schema: '' } },
    { option: 'schema', options: { schema: 'a'.repeat(64) } },
    { option: 'schema', options: { schema: 'pg_otel' } },
    { option: 'exportTimeoutMillis', options: { exportTimeoutMillis: 2 ** 31 } },
    { option: 'exportTimeoutMillis', options: { exportTimeoutMillis: 1e10 } },
    { option: 'connectionTimeoutMillis', options: { connectionTimeoutMillis: 2 ** 31 } },
    { option: 'maxConnections', options: { maxConnections: -1 } },
    { option: 'maxConnections', options: { maxConnections: 0 } },
    { option: 'connectionTimeoutMillis', options: { connectionTimeoutMillis: -5 } },
    { option: 'connectionTimeoutMillis', options: { connectionTimeoutMillis: 1.5 } },
    { option: 'migrate', options: { migrate: 'yes' as unknown as boolean } },
    { option: 'applicationName', options: { applicationName: '' } },
    // NUL cannot go in a startup packet: every batch failed, as retryable (08P01).
    { option: 'applicationName', options: { applicationName: 'shop\0api' } },
    { option: 'connectionString', options: { connectionString: 'postgres://u:secret@h/db\0' } },
    { option: 'connectionString', options: { connectionString: '' } },
    { option: 'connectionString', options: { pool, connectionString: 'postgres://u:secret@h/db' } },
    { option: 'maxConnections', options: { pool, maxConnections: 2 } },
    { option: 'pool', options: { pool: {} as pg.Pool } },
  ])('throws a sentence naming $option for $options', ({ option, options }) => {
    const attempt = () => new PostgresSpanExporter(options);
    expect(attempt).toThrow(InvalidOptionError);
    expect(attempt).toThrow(new RegExp(`^Invalid option ${option}: expected .+, got .+\\.$`));
    expect(attempt).not.toThrow(/secret/);
  });
});

describe('defaults', () => {
  // Non-destructive on purpose: the test database may already hold an "otel" schema.
  it('connects to DATABASE_URL and writes to schema "otel" when nothing is given', async () => {
    vi.stubEnv('DATABASE_URL', db.url);
    vi.stubEnv('OTEL_BLACKBOX_SCHEMA', '');
    const exporter = new PostgresSpanExporter();
    const spans = await traceOf(3);
    const traceId = spans[0]!.spanContext().traceId;
    try {
      expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
      expect(await db.count(`SELECT count(*) FROM otel.spans WHERE trace_id = $1`, [traceId])).toBe(3);
    } finally {
      await exporter.shutdown();
      for (const table of ['logs', 'spans', 'traces']) await db.query(`DELETE FROM otel.${table} WHERE trace_id = $1`, [traceId]);
    }
  });
});

describe('environment', () => {
  it('takes the schema from OTEL_BLACKBOX_SCHEMA, as the CLI does, unless code names one', async () => {
    const fromEnv = await db.freshSchema('options_env_schema');
    vi.stubEnv('OTEL_BLACKBOX_SCHEMA', fromEnv);
    const exporter = new PostgresSpanExporter({ connectionString: db.url });
    expect((await exportSpans(exporter, await traceOf(2))).code).toBe(ExportResultCode.SUCCESS);
    await exporter.shutdown();
    expect(await db.count(`SELECT count(*) FROM "${fromEnv}".spans`)).toBe(2);
  });
});

describe('lifecycle', () => {
  it('shuts down twice without error, then fails exports', async () => {
    const schema = await db.freshSchema('options_lifecycle');
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const inFlight = exportSpans(exporter, await traceOf(5));

    await Promise.all([exporter.shutdown(), exporter.shutdown()]);
    await exporter.shutdown();

    expect((await inFlight).code).toBe(ExportResultCode.SUCCESS); // shutdown waited for it
    const after = await exportSpans(exporter, await traceOf(1));
    expect(after.code).toBe(ExportResultCode.FAILED);
    expect(after.error?.message).toMatch(/shut down/);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(5);
  });

  it('waits for in-flight batches on forceFlush', async () => {
    const schema = await db.freshSchema('options_flush');
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    let settled = 0;
    for (let i = 0; i < 5; i++) exporter.export(await traceOf(3), () => settled++);

    await exporter.forceFlush();

    expect(settled).toBe(5);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(15);
    await exporter.shutdown();
  });

  it('uses a pool of your own and leaves it open on shutdown', async () => {
    const schema = await db.freshSchema('options_own_pool');
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const exporter = new PostgresSpanExporter({ pool, schema });

    expect((await exportSpans(exporter, await traceOf(4))).code).toBe(ExportResultCode.SUCCESS);
    await exporter.shutdown();

    expect(pool.ended).toBe(false);
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".spans`);
    expect(rows).toEqual([{ n: 4 }]);
    await pool.end();
  });

  it('succeeds on an empty batch without touching the database', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
    expect(await exportSpans(exporter, [])).toEqual({ code: ExportResultCode.SUCCESS });
    await exporter.shutdown();
  });
});
