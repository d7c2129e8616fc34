// Fresh install, a second run that does nothing, ten installers racing, and an upgrade
// behind a long reader that gives up rather than queue every writer behind it.
import { ExportResultCode } from '@opentelemetry/core';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { bootstrapStatement, ForeignMigrationsTableError, migrateSchema, migrationStatements, SchemaTooNewError } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();

afterAll(async () => {
  await db.close();
});

async function tablesOf(schema: string): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
    [schema],
  );
  return rows.map((r) => r.table_name);
}

const TABLES = ['dead_letters', 'logs', 'migrations', 'spans', 'traces'];

/** An exporter with its defaults (migrations on) writes a trace of two spans into `schema`. */
async function expectExporterWritesTwoSpans(schema: string): Promise<void> {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    expect((await exportSpans(exporter, await traceOf(2))).code).toBe(ExportResultCode.SUCCESS);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
  } finally {
    await exporter.shutdown();
  }
}

describe('migrations', () => {
  it('installs the schema, then a second run changes nothing', async () => {
    const schema = await db.freshSchema('migrations_fresh');

    expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] });
    expect(await tablesOf(schema)).toEqual(TABLES);
    const applied = await db.query(`SELECT version, name, applied_at FROM "${schema}".migrations ORDER BY version`);
    expect(applied).toMatchObject([
      { version: 1, name: 'initial' },
      { version: 2, name: 'log_records' },
      { version: 3, name: 'lean_span_indexes' },
      { version: 4, name: 'trace_root_ended' },
      { version: 5, name: 'parent_remote_schema_urls' },
      { version: 6, name: 'trace_local_root' },
      { version: 7, name: 'replica_identity' },
      { version: 8, name: 'log_scope_attributes' },
      { version: 9, name: 'error_spans_index' },
      { version: 10, name: 'logs_outside_spans_index' },
      { version: 11, name: 'crashes_by_end_index' },
    ]);

    expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [] });
    expect(await db.query(`SELECT version, name, applied_at FROM "${schema}".migrations ORDER BY version`)).toEqual(applied);
  });

  it('runs the bootstrap once: a fresh install draws no "already exists, skipping" notice', async () => {
    const schema = await db.freshSchema('migrations_bootstrap_once');
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const notices: string[] = [];
    pool.on('connect', (client) => client.on('notice', (notice) => notices.push(notice.message ?? '')));
    try {
      await migrateSchema(pool, schema);
    } finally {
      await pool.end();
    }
    expect(await tablesOf(schema)).toEqual(TABLES);
    expect(notices.filter((message) => /already exists, skipping/.test(message))).toEqual([]);
  });

  it.each([
    ['TypeORM', 'id serial PRIMARY KEY, timestamp bigint NOT NULL, name varchar NOT NULL'],
    ['golang-migrate', 'version bigint PRIMARY KEY, dirty boolean NOT NULL'],
  ])('refuses a schema whose migrations table is another tool\'s (%s), and leaves it alone', async (_tool, columns) => {
    const schema = await db.freshSchema('migrations_foreign');
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`CREATE TABLE "${schema}".migrations (${columns})`);
    await expect(migrateSchema(db.pool, schema)).rejects.toThrow(ForeignMigrationsTableError);
    await expect(migrateSchema(db.pool, schema)).rejects.toThrow(`Schema "${schema}" holds a table named migrations that is not otel-blackbox's`);
    expect(await tablesOf(schema)).toEqual(['migrations']);
  });

  it('writes through a newer migration that says code this old may (an added column, a dropped index)', async () => {
    const schema = await db.freshSchema('migrations_newer_compatible');
    await migrateSchema(db.pool, schema);
    const latest = Math.max(...migrationStatements(schema).map((m) => m.version));
    expect(await db.query(`SELECT version, oldest_writer FROM "${schema}".migrations WHERE version >= 3 ORDER BY version`)).toEqual(
      [3, 4, 5, 6, 7, 8, 9, 10, 11].map((version) => ({ version, oldest_writer: 2 })),
    );
    // A newer otel-blackbox's additive migration, recorded as a newer release would.
    await db.query(`ALTER TABLE "${schema}".spans ADD COLUMN from_the_future text`);
    await db.query(`INSERT INTO "${schema}".migrations (version, name, oldest_writer) VALUES ($1, 'additive', $2)`, [latest + 1, latest]);
    expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [] });
    await expectExporterWritesTwoSpans(schema);
  });

  it('refuses a schema that a newer version has migrated, naming both versions', async () => {
    const schema = await db.freshSchema('migrations_newer');
    await migrateSchema(db.pool, schema);
    const latest = Math.max(...migrationStatements(schema).map((m) => m.version));
    const future = latest + 7;
    await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, 'from the future')`, [future]);

    const attempt = migrateSchema(db.pool, schema);
    await expect(attempt).rejects.toThrow(SchemaTooNewError);
    await expect(attempt).rejects.toThrow(
      `Schema "${schema}" is at migration version ${future}, but this otel-blackbox knows migrations up to version ${latest}: ` +
        'a newer otel-blackbox has upgraded it. Upgrade otel-blackbox here too (or use another schema); refusing to write to it.',
    );

    // The exporter migrates on its first batch, so it refuses to write too, and says why.
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    try {
      const result = await exportSpans(exporter, await traceOf(2));
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(`${result.error?.message} ${(result.error?.cause as Error | undefined)?.message}`).toContain(`at migration version ${future}`);
      expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(0);
    } finally {
      await exporter.shutdown();
    }
  });

  it('ends with one schema and no error when 10 pools migrate at once', async () => {
    const schema = await db.freshSchema('migrations_race');
    const pools = Array.from({ length: 10 }, () => new pg.Pool({ connectionString: db.url, max: 1 }));
    try {
      const results = await Promise.allSettled(pools.map((pool) => migrateSchema(pool, schema)));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill('fulfilled'));
      const applied = results.map((r) => (r as PromiseFulfilledResult<{ applied: number[] }>).value.applied);
      // Each migration applied once. Those a writer needs (1 to 6) by one pool, in one
      // transaction; each of the others in a transaction of its own, so another pool may
      // take the schema's lock between two of them and apply the rest (seen on CI).
      expect(applied.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      expect(applied.filter((a) => a.includes(1))).toEqual([expect.arrayContaining([1, 2, 3, 4, 5, 6])]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
    expect(await tablesOf(schema)).toEqual(TABLES);
    expect(await db.count(`SELECT count(*) FROM "${schema}".migrations`)).toBe(11);
  });

  it('offers each migration as SQL for a dry run, for the schema asked for', () => {
    const statements = migrationStatements('audit');
    expect(statements.map(({ version, name }) => ({ version, name }))).toEqual([
      { version: 1, name: 'initial' },
      { version: 2, name: 'log_records' },
      { version: 3, name: 'lean_span_indexes' },
      { version: 4, name: 'trace_root_ended' },
      { version: 5, name: 'parent_remote_schema_urls' },
      { version: 6, name: 'trace_local_root' },
      { version: 7, name: 'replica_identity' },
      { version: 8, name: 'log_scope_attributes' },
      { version: 9, name: 'error_spans_index' },
      { version: 10, name: 'logs_outside_spans_index' },
      { version: 11, name: 'crashes_by_end_index' },
    ]);
    expect(statements[0]!.sql).toContain('CREATE TABLE "audit".spans');
    expect(() => migrationStatements('Audit; DROP')).toThrow(/schema/);
  });

  it('lets an exporter with migrate: false fail clearly against a missing schema', async () => {
    const schema = await db.freshSchema('migrations_missing');
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
    try {
      const result = await exportSpans(exporter, await traceOf(2));
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error).toMatchObject({ kind: 'permanent', sqlState: '42P01' });
      expect(result.error!.message).toContain(`schema "${schema}" is missing or out of date: run the migrations`);
      expect(result.error!.cause).toMatchObject({ code: '42P01' });
      expect(await db.count(`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, [schema])).toBe(0);
    } finally {
      await exporter.shutdown();
    }
  });

  it('migrates on the first export by default', async () => {
    const schema = await db.freshSchema('migrations_on_export');
    await expectExporterWritesTwoSpans(schema);
  });

  it('gives up on a table lock a long reader holds within seconds, so writers queued behind it go on, and applies later', async () => {
    const schema = await db.freshSchema('migrations_behind_reader');
    // Version 1 as a version-1 release left it; migration 2 must ALTER logs.
    await db.query(bootstrapStatement(schema));
    await db.query(migrationStatements(schema)[0]!.sql);
    await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (1, 'initial')`);
    const reader = new pg.Client({ connectionString: db.url });
    const writer = new pg.Client({ connectionString: db.url });
    await reader.connect();
    await writer.connect();
    try {
      // An analytics query in a long transaction: it holds ACCESS SHARE on logs.
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM "${schema}".logs`);
      const migrating = migrateSchema(db.pool, schema).then(
        () => 'applied',
        (error: { code?: string }) => error.code,
      );
      // A writer that arrives while the migration waits for its lock queues behind it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writer.query(`SET statement_timeout = 20000`);
      const writing = writer.query(
        `INSERT INTO "${schema}".logs (trace_id, span_id, event_index, time, time_unix_nano) VALUES ('ab', 'cd', 0, now(), 1)`,
      ).then(
        () => 'written',
        (error: { code?: string }) => error.code,
      );
      expect(await migrating).toBe('55P03'); // lock_not_available: nothing changed, to be tried again
      expect(await writing).toBe('written');
    } finally {
      await reader.query('ROLLBACK');
      await reader.end();
      await writer.end();
    }
    expect((await migrateSchema(db.pool, schema)).applied).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  }, 60_000);

  it('after a migration gave up behind a long reader, the next batches fail at once instead of queueing writers behind it again, and a later one migrates', async () => {
    const schema = await db.freshSchema('migrations_retry_later');
    await db.query(bootstrapStatement(schema));
    await db.query(migrationStatements(schema)[0]!.sql);
    await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (1, 'initial')`);
    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    const applicationName = `schema-retry-${process.pid}`;
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, applicationName });
    try {
      await reader.query('BEGIN');
      await reader.query(`SELECT count(*) FROM "${schema}".logs`);
      const first = await exportSpans(exporter, await traceOf(1));
      expect(first.code).toBe(ExportResultCode.FAILED);
      expect(first.error?.message).toContain('55P03');
      // The next batch comes while the reader still holds its lock: it must not ask for
      // the tables' locks again (writers would queue behind that request for seconds).
      let settled = false;
      const second = exportSpans(exporter, await traceOf(1)).finally(() => (settled = true));
      let waitedOnLock = 0;
      while (!settled) {
        waitedOnLock += await db.count(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(waitedOnLock).toBe(0);
      const refused = await second;
      expect(refused.code).toBe(ExportResultCode.FAILED);
      expect(refused.error?.message).toMatch(/migrating schema "[^"]+" failed once, and is tried again in about \d+ s/);
      expect(refused.error?.message).toContain('55P03');
      await reader.query('ROLLBACK');
      // Once the delay has passed, a batch runs the migration and is written.
      const trace = await traceOf(2);
      await expect.poll(async () => (await exportSpans(exporter, trace)).code, { timeout: 30_000, interval: 500 }).toBe(ExportResultCode.SUCCESS);
      expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(2);
      expect(await db.count(`SELECT count(*) FROM "${schema}".migrations WHERE version = 5`)).toBe(1);
    } finally {
      await reader.query('ROLLBACK').catch(() => {});
      await reader.end();
      await exporter.shutdown();
    }
  }, 60_000);
});

// A database that refused the connection itself (not accepting connections, 55000; a missing
// database, 3D000; a role not allowed yet) was counted as a failed migration: batches were
// refused for a delay doubling to 5 minutes, long after the database was back (a soak: 31 s
// after it came back, up to 5 minutes after a longer outage), and said it was the
// migration's locks. Nothing waited on a lock: the next batch tries again.
describe('a connection the database refuses', () => {
  it('is not a failed migration: the batch right after the database is there migrates and is written', async () => {
    const name = `wt_connect_refused_${process.pid}_${Date.now()}`;
    const url = new URL(db.url);
    url.pathname = `/${name}`;
    const exporter = new PostgresSpanExporter({ connectionString: url.toString(), schema: 'otel' });
    try {
      const refused = await exportSpans(exporter, await traceOf(1));
      expect(refused.code).toBe(ExportResultCode.FAILED);
      expect(refused.error?.message).toContain('3D000');
      await db.query(`CREATE DATABASE ${name}`);
      expect(await exportSpans(exporter, await traceOf(2))).toEqual({ code: ExportResultCode.SUCCESS });
    } finally {
      await exporter.shutdown();
      await db.query(`DROP DATABASE IF EXISTS ${name}`);
    }
  }, 30_000);
});
