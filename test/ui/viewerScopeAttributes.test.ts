// A logger's scope attributes (logs.scope_attributes, migration 8) in the viewer's API:
// with each log record of a span and each line outside spans, null where the logger gave
// none; and a viewer pointed at a schema older than migration 8 (a role that may not
// migrate) answers as before, without them, not with a 500 (the column is not there).
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { quoteSchema } from '../../src/postgres/schemaName.js';
import { readOnlyQueries, type ViewerDatabase } from '../../src/ui/viewerDatabase.js';
import { createViewerServer } from '../../src/ui/viewerServer.js';
import { TestDatabase } from '../helpers/database.js';
import { installMigrations } from '../helpers/installedMigrations.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { SCOPE_ATTRIBUTES, seedScopedLogs, startViewer, type RunningViewer } from './viewerFixture.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
const viewers: RunningViewer[] = [];

afterAll(async () => {
  for (const viewer of viewers) await viewer.stop();
  await db.close();
});

async function viewerOver(schema: string): Promise<(path: string) => Promise<{ status: number; body: any }>> {
  const viewer = await startViewer(['--database', db.url, '--schema', schema]);
  viewers.push(viewer);
  return async (path) => {
    const response = await fetch(new URL(path, viewer.url));
    return { status: response.status, body: await response.json() };
  };
}

/** The span's log records and the service's lines outside spans, by body. */
async function linesOf(get: Awaited<ReturnType<typeof viewerOver>>, traceId: string, spanId: string) {
  const details = await get(`/api/traces/${traceId}/spans/${spanId}`);
  const outside = await get('/api/logs?service=billing-scoped');
  expect([details.status, outside.status]).toEqual([200, 200]);
  const inSpan = new Map<string, any>(details.body.logs.map((log: any) => [log.fields.body, log.fields]));
  const notInSpan = new Map<string, any>(outside.body.rows.map((row: any) => [row.body, row]));
  return { inSpan, notInSpan };
}

describe('scope attributes in the viewer', () => {
  test("a log record shows its logger's scope attributes, in its span's details and in the lines outside spans; one without shows none", async () => {
    const schema = await db.freshSchema('viewer_scope_attributes');
    const { traceId, spanId } = await seedScopedLogs(db.url, schema, tempDir());
    const { inSpan, notInSpan } = await linesOf(await viewerOver(schema), traceId, spanId);
    expect(inSpan.get('invoice settled')).toMatchObject({ scope_name: 'billing-audit', scope_version: '3.1.0', scope_attributes: SCOPE_ATTRIBUTES });
    expect(inSpan.get('plain line in the span')).toMatchObject({ scope_name: 'billing-plain', scope_version: '1.0.0', scope_attributes: null });
    expect(notInSpan.get('audit line outside any span')).toMatchObject({ scope_name: 'billing-audit', scope_version: '3.1.0', scope_attributes: SCOPE_ATTRIBUTES });
    expect(notInSpan.get('plain line outside any span')).toMatchObject({ scope_name: 'billing-plain', scope_version: '1.0.0', scope_attributes: null });
  });

  test('a schema at migration 7 (no logs.scope_attributes): the same pages, 200, without scope attributes', async () => {
    const schema = await db.freshSchema('viewer_scope_attributes_v7');
    await installMigrations(db, schema, (version) => version <= 7);
    // Written as a role that may not migrate writes: to the schema as it is.
    const { traceId, spanId } = await seedScopedLogs(db.url, schema, tempDir(), { migrate: false });
    expect(await db.count(`SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'logs' AND column_name = 'scope_attributes'`, [schema])).toBe(0);
    const { inSpan, notInSpan } = await linesOf(await viewerOver(schema), traceId, spanId);
    expect([...inSpan.keys()].sort()).toEqual(['invoice settled', 'plain line in the span']);
    expect([...notInSpan.keys()].sort()).toEqual(['audit line outside any span', 'plain line outside any span']);
    for (const line of [...inSpan.values(), ...notInSpan.values()]) expect(line.scope_attributes ?? null).toBeNull();
    expect(inSpan.get('invoice settled')).toMatchObject({ scope_name: 'billing-audit', scope_version: '3.1.0' });
    expect(notInSpan.get('audit line outside any span')).toMatchObject({ scope_name: 'billing-audit', scope_version: '3.1.0' });
  });

  test('the catalog is read once per viewer, not per request; a column dropped under it (an older dump restored) is read again, not a 500', async () => {
    const schema = await db.freshSchema('viewer_scope_attributes_once');
    const { traceId, spanId } = await seedScopedLogs(db.url, schema, tempDir());
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const catalogReads: string[] = [];
    const reads = readOnlyQueries(pool);
    const counting: ViewerDatabase = {
      query: (text, values) => {
        if (text.includes('pg_attribute')) catalogReads.push(text);
        return reads.query(text, values);
      },
      end: () => reads.end(),
    };
    const errors: string[] = [];
    const server = createViewerServer({ pool: counting, schema: quoteSchema(schema), secrets: [], logError: (line) => errors.push(line) });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const get = async (path: string) => {
      const response = await fetch(new URL(path, base));
      return { status: response.status, body: (await response.json()) as any };
    };
    try {
      const asked = await Promise.all([1, 2, 3].flatMap(() => [get(`/api/traces/${traceId}/spans/${spanId}`), get('/api/logs?service=billing-scoped')]));
      asked.push(await get(`/api/traces/${traceId}/spans/${spanId}`), await get('/api/logs'));
      expect(asked.map(({ status }) => status)).toEqual(Array(8).fill(200));
      expect(catalogReads).toHaveLength(1);
      await db.query(`ALTER TABLE "${schema}".logs DROP COLUMN scope_attributes`);
      const details = await get(`/api/traces/${traceId}/spans/${spanId}`);
      const outside = await get('/api/logs?service=billing-scoped');
      expect([details.status, outside.status]).toEqual([200, 200]);
      expect(details.body.logs.map((log: any) => log.fields.scope_attributes ?? null)).toEqual([null, null]);
      expect(outside.body.rows.map((row: any) => row.scope_attributes ?? null)).toEqual([null, null]);
      expect(errors).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    }
  });
});
