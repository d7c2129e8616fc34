// The README's NodeSDK registration, run for real with HTTP and pg auto-instrumentation:
// the application's spans arrive, and the exporter's own queries produce none.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
beforeAll(async () => {
  schema = await db.freshSchema('node_sdk_example');
});
afterAll(() => db.close());

test('examples/tracing.cjs with HTTP and pg instrumentation: app spans arrive, exporter queries are never traced', async () => {
  const service = join(import.meta.dirname, '../../examples/crash-demo/service.cjs');
  const run = runFixture(service, {
    DATABASE_URL: db.url,
    OTEL_BLACKBOX_SCHEMA: schema,
    OTEL_BLACKBOX_JOURNAL_DIR: join(tempDir(), 'journal'),
    OTEL_SERVICE_NAME: 'example-under-test',
    DEMO_MODE: 'restart',
  }, ['-r', join(import.meta.dirname, '../../examples/tracing.cjs')]);
  const exit = await run.exited;
  expect(exit).toMatchObject({ code: 0, signal: null });

  const spans = await db.query<{ name: string; kind: string; attributes: Record<string, unknown>; scope_name: string }>(
    `SELECT name, kind, attributes, scope_name FROM "${schema}".spans WHERE service_name = 'example-under-test'`,
  );
  const names = spans.map((span) => span.name);
  expect(names).toContain('load cart');
  expect(names).toContain('price items');
  expect(spans.some((span) => span.kind === 'SERVER' && span.scope_name === '@opentelemetry/instrumentation-http')).toBe(true);

  const pgQueries = spans.filter((span) => span.scope_name === '@opentelemetry/instrumentation-pg' && span.name.startsWith('pg.query'));
  // Exactly the application's one query: the exporter's BEGIN/INSERT/COMMIT never show up.
  expect(pgQueries).toHaveLength(1);
  const statement = String(pgQueries[0].attributes['db.statement'] ?? pgQueries[0].attributes['db.query.text']);
  expect(statement).toContain('SELECT $1::int * 2');
  const everyText = JSON.stringify(spans);
  expect(everyText).not.toMatch(/INSERT INTO|BEGIN|COMMIT|pg_advisory/);
});

test('examples/tracing.cjs starts with an empty DATABASE_URL and OTEL_BLACKBOX_JOURNAL_DIR (as .env files leave them): the library reads them, ignores them, and uses the PG* variables', async () => {
  // Before: the example passed process.env.DATABASE_URL in code, where '' is refused, and the
  // application did not start (a review's finding).
  const url = new URL(db.url);
  const cwd = tempDir();
  const service = join(import.meta.dirname, '../../examples/crash-demo/service.cjs');
  const run = runFixture(service, {
    DATABASE_URL: '',
    OTEL_BLACKBOX_JOURNAL_DIR: '',
    PGHOST: url.hostname,
    PGPORT: url.port || '5432',
    PGUSER: decodeURIComponent(url.username),
    PGPASSWORD: decodeURIComponent(url.password),
    PGDATABASE: url.pathname.slice(1),
    OTEL_BLACKBOX_SCHEMA: schema,
    OTEL_SERVICE_NAME: 'example-empty-env',
    DEMO_MODE: 'restart',
  }, ['-r', join(import.meta.dirname, '../../examples/tracing.cjs')], { cwd });
  const exit = await run.exited;
  expect(exit).toMatchObject({ code: 0, signal: null });
  const { length } = await db.query(`SELECT 1 FROM "${schema}".spans WHERE service_name = 'example-empty-env' AND name = 'load cart'`);
  expect(length).toBe(1);
});

// The ESM twin, as the README's `node --import` line runs it: without the loader hook
// registered, an ESM application got no http or pg spans and nothing said so (a new user's
// attack: the README and this example did not show it).
test('examples/tracing.mjs with node --import: an ESM application gets its http and pg spans', async () => {
  const app = join(import.meta.dirname, '../fixtures/esmExampleApp.mjs');
  const run = runFixture(app, {
    DATABASE_URL: db.url,
    OTEL_BLACKBOX_SCHEMA: schema,
    OTEL_BLACKBOX_JOURNAL_DIR: join(tempDir(), 'journal'),
    OTEL_SERVICE_NAME: 'esm-example-under-test',
  }, ['--import', join(import.meta.dirname, '../../examples/tracing.mjs')]);
  const exit = await run.exited;
  expect(exit).toMatchObject({ code: 0, signal: null });

  const spans = await db.query<{ kind: string; scope_name: string; name: string }>(
    `SELECT kind, scope_name, name FROM "${schema}".spans WHERE service_name = 'esm-example-under-test'`,
  );
  expect(spans.filter((span) => span.scope_name === '@opentelemetry/instrumentation-http').map((span) => span.kind).sort()).toEqual(['CLIENT', 'SERVER']);
  expect(spans.filter((span) => span.scope_name === '@opentelemetry/instrumentation-pg' && span.name.startsWith('pg.query'))).toHaveLength(1);
});
