// A batch is bounded by the exporter's exportTimeoutMillis: behind a lock, the server ends
// the statement (SET LOCAL statement_timeout) and the connection is freed while the lock is
// still held; a server that never answers is left at the deadline; the retry afterwards
// stores the batch once. And a COMMIT whose reply was lost is not reported as "Nothing was
// written". A resource detector that never settles does not hold a batch past it either.
import { ExportResultCode } from '@opentelemetry/core';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { expect, test } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { PostgresExportError } from '../../src/postgres/PostgresExportError.js';
import { migrationLock } from '../../src/postgres/migrate.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { TcpProxy } from '../helpers/TcpProxy.mjs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { exportSpans, traceOf, withAttributes } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'export_timeout', (name) => (schema = name));

const backendsOf = (applicationName: string) =>
  db.count(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state <> 'idle'`, [applicationName]);

test('behind a table lock: the export fails as transient, its statement is ended on the server while the lock is held, and the retry writes once', async () => {
  const applicationName = `export-timeout-lock-${process.pid}`;
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, applicationName, exportTimeoutMillis: 500, maxConnections: 1 });
  const spans = await traceOf(3, 'locked');
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".spans IN ACCESS EXCLUSIVE MODE`);
    const result = await exportSpans(exporter, spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect((result.error as PostgresExportError).kind).toBe('transient');
    expect(result.error?.message).toContain('Nothing was written');
    // Nothing of ours still runs on the server, though the lock is still held. Polled: the
    // backend may finish its ended statement (and its rollback) a moment after the export
    // has failed; a statement left waiting on the lock stays until it is released.
    await expect.poll(() => backendsOf(applicationName), { timeout: 5000 }).toBe(0);
  } finally {
    await locker.query('ROLLBACK');
    await locker.end();
  }
  expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE name LIKE 'locked%'`)).toBe(3);
  await exporter.shutdown();
});

test('a caller pool that waits forever for a server that never answers: the export still fails at exportTimeoutMillis', async () => {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket.on('error', () => {})));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${port}/none`, connectionTimeoutMillis: 0 });
  pool.on('error', () => {});
  const exporter = new PostgresSpanExporter({ pool, schema, migrate: false, exportTimeoutMillis: 300 });
  try {
    const result = await exportSpans(exporter, await traceOf(1, 'silent'));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toContain('exportTimeoutMillis (300 ms)');
    expect((result.error as PostgresExportError).kind).toBe('transient');
  } finally {
    await exporter.shutdown();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a COMMIT applied but whose reply was lost: the error says the batch may have been written, and the retry stores it once', async () => {
  const proxy = await TcpProxy.create(db.url);
  await proxy.listen();
  const exporter = new PostgresSpanExporter({ connectionString: proxy.urlFor(db.url), schema, migrate: false });
  const spans = await traceOf(2, 'commit-lost');
  proxy.cutOn('COMMIT', { times: 1, afterForwarding: true });
  const result = await exportSpans(exporter, spans);
  expect(result.code).toBe(ExportResultCode.FAILED);
  expect(result.error?.message).not.toContain('Nothing was written');
  expect(result.error?.message).toContain('may or may not have been written');
  expect((result.error as PostgresExportError).kind).toBe('transient');
  // Whether the server applied it (it usually has by now, but that is its timing), the retry stores the batch once.
  expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE name LIKE 'commit-lost%'`)).toBe(2);
  await exporter.shutdown();
  await proxy.refuse();
});

test('behind another process migrating the schema: the export fails at exportTimeoutMillis, shutdown settles, and the next export migrates and writes', async () => {
  const fresh = await db.freshSchema('export_timeout_migrating');
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema: fresh, exportTimeoutMillis: 500 });
  const spans = await traceOf(3, 'migrating');
  const migrator = new pg.Client({ connectionString: db.url });
  await migrator.connect();
  try {
    // Another process's migration of the same schema holds its advisory lock.
    await migrator.query('BEGIN');
    const [namespace, key] = migrationLock(fresh);
    await migrator.query('SELECT pg_advisory_xact_lock($1, $2)', [namespace, key]);
    const result = await exportSpans(exporter, spans);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toMatch(/migrat/);
    // Nothing of the export is left waiting: forceFlush (and so shutdown) settles.
    await exporter.forceFlush();
    // Held past the migration's own wait for the lock (lockTimeoutMillis, 500 ms): a wait
    // for another process's migration held no table, and is no failure to back off from.
    // It was taken for one, and the next batch refused for 3-5 s (CI saw it by chance,
    // when that wait ended before the export's deadline).
    await new Promise((resolve) => setTimeout(resolve, 700));
  } finally {
    await migrator.query('ROLLBACK');
    await migrator.end();
  }
  expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
  expect(await db.count(`SELECT count(*) FROM "${fresh}".spans WHERE name LIKE 'migrating%'`)).toBe(3);
  await exporter.shutdown();
}, 20_000);

test('a resource detector that never settles: the batch is written with the attributes it has, within the deadline, and shutdown settles', async () => {
  // A detector stuck on a metadata endpoint that never answers.
  const stuck = resourceFromAttributes({ 'service.name': 'stuck-detector', 'cloud.region': new Promise<string>(() => {}) });
  expect(stuck.asyncAttributesPending).toBe(true);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, exportTimeoutMillis: 600 });
  const spans = (await traceOf(3, 'stuck')).map((span) => withAttributes(span, span.attributes, { resource: stuck }));
  try {
    for (const batch of [spans.slice(0, 2), spans.slice(2)]) {
      const result = await exportSpans(exporter, batch);
      expect(result.code).toBe(ExportResultCode.SUCCESS);
    }
    const rows = await db.query<{ resource: Record<string, unknown> }>(`SELECT resource FROM "${schema}".spans WHERE name LIKE 'stuck%'`);
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row.resource).toEqual({ 'service.name': 'stuck-detector' });
  } finally {
    await exporter.shutdown();
  }
});

test('resources made from one whose detector hangs (a resource per tenant) do not each hold their first batch for half the timeout', async () => {
  // A TracerProvider per tenant, its resource merged onto the host's, whose detector never
  // answers: each new tenant's first batch waited half of exportTimeoutMillis (15 s by
  // default), and export fell to 68 spans/s (a review of growth with user data).
  const host = resourceFromAttributes({ 'host.id': new Promise<string>(() => {}) });
  const exportTimeoutMillis = 4000;
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, exportTimeoutMillis });
  const tenantSpans = async (tenant: number) =>
    (await traceOf(1, `tenant-${tenant}`)).map((span) => withAttributes(span, span.attributes, { resource: host.merge(resourceFromAttributes({ 'service.name': `tenant-${tenant}` })) }));
  try {
    // The first waits, and gives up: the host's detector hangs.
    expect((await exportSpans(exporter, await tenantSpans(0))).code).toBe(ExportResultCode.SUCCESS);
    for (let tenant = 1; tenant <= 5; tenant++) {
      const spans = await tenantSpans(tenant);
      const halfTheTimeout = new Promise<'waited'>((resolve) => setTimeout(() => resolve('waited'), exportTimeoutMillis / 2).unref());
      const outcome = await Promise.race([exportSpans(exporter, spans), halfTheTimeout]);
      expect(outcome).not.toBe('waited');
    }
    const rows = await db.query<{ service_name: string }>(`SELECT service_name FROM "${schema}".spans WHERE name LIKE 'tenant-%' ORDER BY service_name`);
    expect(rows.map((row) => row.service_name)).toEqual(['tenant-0', 'tenant-1', 'tenant-2', 'tenant-3', 'tenant-4', 'tenant-5']);
  } finally {
    await exporter.shutdown();
  }
}, 30_000);
