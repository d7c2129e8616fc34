// The viewer's JSON API and command line over real rows: filters, keyset pages, hostile
// input that must stay data, the bind address warning, and no password in any output.
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { BEHIND_SCHEMA_URLS, HOSTILE_NAME, LAST_LINE, seedBigTrace, seedErrorTrace, seedServiceBehindGateway, seedShopCrash, seedSmallTraces, seedSpanWithAttributes, startViewer } from './viewerFixture.js';
import type { RunningViewer } from './viewerFixture.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
const PASSWORD = 'pw-Zq81-not-for-pages';
let schema: string;
let shop: { traceId: string; hostileSpanId: string };
let behind: Awaited<ReturnType<typeof seedServiceBehindGateway>>;
let failed: Awaited<ReturnType<typeof seedErrorTrace>>;
let viewer: RunningViewer;

/** The test database's URL with a password in it (trust authentication ignores it). */
function urlWithPassword(): string {
  const url = new URL(db.url);
  url.password = PASSWORD;
  return url.toString();
}

beforeAll(async () => {
  schema = await db.freshSchema('viewer_api');
  shop = await seedShopCrash(db.url, schema, tempDir());
  await seedBigTrace(db.url, schema, 130);
  // 120 more one-span traces, so the trace list has three pages.
  await seedSmallTraces(db.url, schema, 120);
  behind = await seedServiceBehindGateway(db.url, schema);
  failed = await seedErrorTrace(db.url, schema);
  viewer = await startViewer(['--database', urlWithPassword(), '--schema', schema]);
});
afterAll(async () => {
  await viewer?.stop();
  await db.close();
});

async function get(path: string): Promise<{ status: number; body: any; text: string; headers: Headers }> {
  const response = await fetch(new URL(path, viewer.url));
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body, text, headers: response.headers };
}

describe('otel-blackbox ui API', () => {
  test('lists the crash records newest first with their reason', async () => {
    const { status, body } = await get('/api/crashes');
    expect(status).toBe(200);
    expect(body.rows.map((row: any) => row.name).sort()).toEqual([HOSTILE_NAME, 'POST /checkout', 'charge card'].sort());
    expect(body.rows[0].crash_reason).toContain('TypeError: card declined: payment gateway timed out');
    expect(body.rows.every((row: any) => row.trace_id === shop.traceId)).toBe(true);
    expect(body.next).toBeNull();
  });

  test('pages through every trace by keyset, each exactly once, filtered by state and service', async () => {
    const all = await db.count(`SELECT count(*) FROM "${schema}".traces`);
    expect(all).toBeGreaterThan(50);
    const seen: string[] = [];
    let after: string | null = '';
    let pages = 0;
    while (after !== null) {
      const { body } = await get(`/api/traces${after ? `?after=${encodeURIComponent(after)}` : ''}`);
      seen.push(...body.rows.map((row: any) => row.trace_id));
      after = body.next;
      pages += 1;
    }
    expect(pages).toBeGreaterThan(1);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(all);

    const crashed = await get('/api/traces?state=crashed');
    expect(crashed.body.rows).toEqual([expect.objectContaining({ trace_id: shop.traceId, state: 'crashed', span_count: 4, service_name: 'shop' })]);
    const shopEnded = await get('/api/traces?state=ended&service=shop');
    expect(shopEnded.body.rows).toHaveLength(3);
    expect(shopEnded.body.rows.every((row: any) => row.root_span_name === 'GET /products' && row.span_count === 2)).toBe(true);
    const future = await get(`/api/traces?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    expect(future.body.rows).toEqual([]);
  });

  test("counts each trace's ERROR spans, and lists only the traces that have one when asked", async () => {
    const all = await get(`/api/traces?service=shop-errors`);
    expect(all.body.rows).toEqual([expect.objectContaining({ trace_id: failed.traceId, error_count: 1 })]);
    const withError = await db.query<{ trace_id: string; errors: number }>(
      `SELECT trace_id, count(*)::int AS errors FROM "${schema}".spans WHERE status_code = 'ERROR' GROUP BY trace_id`,
    );
    expect(withError.length).toBeGreaterThan(0);
    const listed = await get('/api/traces?status=error');
    expect(listed.body.rows.map((row: any) => [row.trace_id, row.error_count]).sort()).toEqual(withError.map((row) => [row.trace_id, row.errors]).sort());
    const cron = await get('/api/traces?service=cron&status=error');
    expect(cron.body.rows).toEqual([]);
    const bad = await get('/api/traces?status=ERRORS');
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('status must be error');
  });

  test('lists the log lines no span shows (outside any span, or in a span not sampled), newest first, each once across pages', async () => {
    // 110 lines outside any span, ten to a nanosecond, from two writers; 12 in a span not
    // sampled; 15 in a sampled span, which its span's details show and this list does not.
    const base = 1_765_000_000_000_000_000n;
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, trace_flags, time, time_unix_nano, service_name, severity_text, severity_number, body)
       SELECT 'log', CASE WHEN n % 2 = 0 THEN 'w-outside-a' ELSE 'w-outside-b' END, n, t, s, f,
              'epoch'::timestamptz + ((${base} + (n / 10) * 1000)::numeric / 1000) * interval '1 microsecond', ${base} + (n / 10) * 1000,
              CASE WHEN n % 3 = 0 THEN 'billing' ELSE 'ingest' END, CASE WHEN n % 5 = 0 THEN 'ERROR' ELSE NULL END, CASE WHEN n % 5 = 0 THEN 17 ELSE 9 END,
              to_jsonb('line ' || n)
         FROM (SELECT n, NULL AS t, NULL AS s, NULL::int AS f FROM generate_series(1, 110) n
               UNION ALL SELECT n, md5('unsampled'), '00000000000000a1', 0 FROM generate_series(111, 122) n
               UNION ALL SELECT n, md5('sampled'), '00000000000000b1', 1 FROM generate_series(123, 137) n) lines`,
    );
    // And one writer's lines 95 to 109 in one nanosecond: ordered as text, 100 came before 99 (a review).
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, time, time_unix_nano, service_name, body)
       SELECT 'log', 'w-one-nanosecond', n, 'epoch'::timestamptz + (${base / 1000n} * interval '1 microsecond'), ${base}, 'ingest', to_jsonb('same time ' || n)
         FROM generate_series(95, 109) n`,
    );
    const expected = await db.query<{ key: string }>(
      `SELECT writer_id || '/' || sequence AS key FROM "${schema}".logs
        WHERE kind = 'log' AND (trace_id IS NULL OR trace_flags & 1 = 0)
        ORDER BY time_unix_nano DESC, writer_id COLLATE "C" DESC, sequence DESC`,
    );
    expect(expected.length).toBeGreaterThanOrEqual(122);
    const seen: string[] = [];
    let after: string | null = '';
    let pages = 0;
    while (after !== null) {
      const { status, body } = await get(`/api/logs${after ? `?after=${encodeURIComponent(after)}` : ''}`);
      expect(status).toBe(200);
      seen.push(...body.rows.map((row: any) => `${row.writer_id}/${row.sequence}`));
      after = body.next;
      pages += 1;
    }
    expect(pages).toBeGreaterThan(2);
    expect(seen).toEqual(expected.map((row) => row.key));
    const { body } = await get('/api/logs?service=billing');
    const billing = body.rows.filter((row: any) => row.writer_id.startsWith('w-outside'));
    expect(billing.length).toBeGreaterThan(0);
    expect(body.rows.every((row: any) => row.service_name === 'billing')).toBe(true);
    const unsampled = body.rows.find((row: any) => row.span_id === '00000000000000a1');
    expect(unsampled).toMatchObject({ trace_flags: 0, body: expect.stringMatching(/^line 1[12]\d$/) });
    const errorLine = body.rows.find((row: any) => row.severity_text === 'ERROR');
    expect(errorLine).toMatchObject({ severity_number: 17, body_missing: false });
    // At least a severity: by its number, or by its text where a line has none (or 0).
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, time, time_unix_nano, service_name, severity_text, severity_number, body)
       VALUES ('log', 'w-severity-text', 1, now(), (extract(epoch FROM now()) * 1e9)::bigint, 'ingest', 'error', NULL, '"said in words"'),
              ('log', 'w-severity-text', 2, now(), (extract(epoch FROM now()) * 1e9)::bigint, 'ingest', 'Warn', 0, '"warned in words"'),
              ('log', 'w-severity-text', 3, now(), (extract(epoch FROM now()) * 1e9)::bigint, 'ingest', 'ERROR', 9, '"an INFO number says ERROR"'),
              ('log', 'w-severity-text', 4, now(), (extract(epoch FROM now()) * 1e9)::bigint, 'ingest', ' Warning', NULL, '"a library''s own word"')`,
    );
    const severityOf = async (least: string) => {
      const rows: any[] = [];
      let next: string | null = '';
      while (next !== null) {
        const { status, body: page } = await get(`/api/logs?severity=${least}${next ? `&after=${encodeURIComponent(next)}` : ''}`);
        expect(status).toBe(200);
        rows.push(...page.rows);
        next = page.next;
      }
      return rows.map((row) => `${row.writer_id}/${row.sequence}`).sort();
    };
    const errorsAndAbove = await db.query<{ key: string }>(
      `SELECT writer_id || '/' || sequence AS key FROM "${schema}".logs
        WHERE kind = 'log' AND (trace_id IS NULL OR trace_flags & 1 = 0) AND (severity_number >= 17 OR writer_id = 'w-severity-text' AND sequence = 1)`,
    );
    expect(await severityOf('error')).toEqual(errorsAndAbove.map((row) => row.key).sort());
    expect(await severityOf('error')).toContain('w-severity-text/1');
    expect(await severityOf('warn')).toEqual(expect.arrayContaining(['w-severity-text/1', 'w-severity-text/2']));
    // The number decides where there is one: the normalised level; the text is the library's word.
    expect(await severityOf('warn')).not.toContain('w-severity-text/3');
    // WARNING is WARN, trimmed, in any case; and the parameter in any case too.
    expect(await severityOf('WARN')).toEqual(await severityOf('warn'));
    expect(await severityOf('warn')).toContain('w-severity-text/4');
    expect(await severityOf('error')).not.toContain('w-severity-text/4');
    const loud = await get('/api/logs?severity=loud');
    expect(loud.status).toBe(400);
    expect(loud.text).toContain('severity must be one of trace, debug, info, warn, error, fatal');
    // A trace's cursor is not a log line's; nor is a sequence past a bigint, or a writer id with a NUL (500s before).
    for (const after of [`1.${'a'.repeat(32)}`, '1.99999999999999999999.', `1.1.${Buffer.from('w\0').toString('base64url')}`]) {
      const bad = await get(`/api/logs?after=${encodeURIComponent(after)}`);
      expect(bad.status).toBe(400);
      expect(bad.text).toContain('after must be a cursor returned by a previous page');
    }
  });

  test('a trace comes with every span, and a span with its events', async () => {
    const { body } = await get(`/api/traces/${shop.traceId}`);
    const byName = new Map(body.spans.map((span: any) => [span.name, span]));
    expect([...byName.keys()].sort()).toEqual([HOSTILE_NAME, 'POST /checkout', 'charge card', 'load cart'].sort());
    const cart: any = byName.get('load cart');
    expect(cart.state).toBe('ended');
    const hostile: any = byName.get(HOSTILE_NAME);
    expect(hostile).toMatchObject({ state: 'crashed', end_time_estimated: true, span_id: shop.hostileSpanId });
    const logs = await get(`/api/traces/${shop.traceId}/spans/${cart.span_id}`);
    expect(logs.body.resource).toMatchObject({ 'service.name': 'shop' });
    expect(logs.body.logs.map((log: any) => log.fields.event_name)).toEqual(['cart loaded', 'coupon rejected']);
    expect(logs.body.logs[0].fields.attributes).toEqual({ items: 3, total: '59.90 EUR' });
  });

  test("a crash record names its process's journal writer, and comes with what that process logged last, in a span or not", async () => {
    const { body } = await get(`/api/traces/${shop.traceId}`);
    const charge = body.spans.find((span: any) => span.name === 'charge card');
    const details = await get(`/api/traces/${shop.traceId}/spans/${charge.span_id}`);
    const writer = details.body.attributes['otel_blackbox.writer.id'];
    expect(typeof writer).toBe('string');
    // The writer's log rows: one exported while it ran, two recovered with its crash records.
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log' AND writer_id = $1`, [writer])).toBe(3);
    const lines = details.body.process_logs;
    expect(lines).toMatchObject({ writer_id: writer, truncated: false });
    expect(lines.logs.map((log: any) => log.fields.body)).toEqual(['charging card ending 4242', 'payment gateway slow: retrying', LAST_LINE]);
    expect(lines.logs.map((log: any) => [log.fields.severity_text, log.fields.span_id])).toEqual([
      ['INFO', charge.span_id],
      ['WARN', charge.span_id],
      ['ERROR', null],
    ]);
    // Every crash record of the process names the same writer; a span that ended has none.
    for (const span of body.spans.filter((s: any) => s.state === 'crashed')) {
      expect((await get(`/api/traces/${shop.traceId}/spans/${span.span_id}`)).body.process_logs.writer_id).toBe(writer);
    }
    const cart = body.spans.find((span: any) => span.name === 'load cart');
    expect((await get(`/api/traces/${shop.traceId}/spans/${cart.span_id}`)).body.process_logs).toBeNull();
    // An application's span that carries the attribute itself is no crash record (stored
    // 'ended', as the exporter stores any span with the markers but not their shape): it
    // gets no process's lines, another process's least of all.
    const impostor = await seedSpanWithAttributes(db.url, schema, { 'otel_blackbox.writer.id': writer });
    const impostorDetails = await get(`/api/traces/${impostor.traceId}/spans/${impostor.spanId}`);
    expect(impostorDetails.body.process_logs).toBeNull();
    expect(impostorDetails.body.attributes['otel_blackbox.writer.id']).toBe(writer);
  });

  test('a service behind a gateway: its trace is named by the span whose parent came from there, which says so, with the schema URLs', async () => {
    const list = await get('/api/traces?service=orders');
    expect(list.body.rows).toEqual([expect.objectContaining({ trace_id: behind.traceId, root_span_name: 'GET /orders/:id', span_count: 2 })]);
    const { body } = await get(`/api/traces/${behind.traceId}`);
    const server = body.spans.find((span: any) => span.span_id === behind.serverSpanId);
    expect(server).toMatchObject({ parent_span_id: behind.parentSpanId, parent_is_remote: true });
    expect(body.spans.find((span: any) => span.name === 'SELECT orders')).toMatchObject({ parent_span_id: behind.serverSpanId, parent_is_remote: false });
    const details = await get(`/api/traces/${behind.traceId}/spans/${behind.serverSpanId}`);
    expect(details.body).toMatchObject({ resource_schema_url: BEHIND_SCHEMA_URLS.resource, scope_schema_url: BEHIND_SCHEMA_URLS.scope });
  });

  test('a trace\'s response stays small however large its attributes: they come with the selected span, long strings cut', async () => {
    const traceId = 'b'.repeat(32);
    const big = 'x'.repeat(200_000);
    for (const [i, spanId] of ['1111111111111111', '2222222222222222'].entries()) {
      await db.query(
        `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, attributes, links)
         VALUES ($1, $2, $3, 'INTERNAL', 'ended', now(), $4, now(), $4, $5, $6)`,
        [traceId, spanId, 'n'.repeat(5000), 1_764_000_000_000_000_000n + BigInt(i), { big, small: 1 }, JSON.stringify([{ attributes: { big } }])],
      );
    }
    const trace = await get(`/api/traces/${traceId}`);
    expect(trace.status).toBe(200);
    expect(trace.text.length).toBeLessThan(5_000);
    // The waterfall's rows: their texts cut short; the selected span's come with its details.
    expect(trace.body.spans[0].name).toBe(`${'n'.repeat(256)}…`);
    const span = await get(`/api/traces/${traceId}/spans/1111111111111111`);
    expect(span.body.name).toBe('n'.repeat(5000));
    expect(span.body.attributes.small).toBe(1);
    expect(span.body.attributes.big).toBe(`${'x'.repeat(65_536)}… (134464 more characters)`);
    expect(span.body.links[0].attributes.big).toHaveLength(65_536 + '… (134464 more characters)'.length);
  });

  test("a trace's texts and a span's lines are bounded in total, not only one by one: 5,000 crash reasons of 20 KB were a 125 MB response", async () => {
    const traceId = 'a1'.repeat(16);
    const spanId = (i: number) => i.toString(16).padStart(16, '0');
    const reason = (i: number) => `uncaught Error: batch ${i} failed\n${'    at step (/app/batch.js:1:1)\n'.repeat(600)}`;
    await db.query(
      `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano,
                                      status_code, status_message, crash_reason, end_time_estimated, attributes)
       SELECT $1, lpad(to_hex(i), 16, '0'), 'item ' || i, 'INTERNAL', 'crashed', now(), 1764000000000000000 + i, now(), 1764000000000000000 + i,
              'ERROR', $2 || i, $2 || i, true, jsonb_build_object('otel_blackbox.writer.id', 'w-bounded', 'big', repeat('a', 1100000))
         FROM generate_series(1, 500) i`,
      [traceId, reason(0)],
    );
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, time, time_unix_nano, severity_text, body)
       SELECT 'log', 'w-bounded', n, $1, $2, now(), 1764000000000000000 + n, 'INFO', to_jsonb(n || ' ' || repeat('b', 100000)) FROM generate_series(1, 200) n`,
      [traceId, spanId(1)],
    );
    try {
      const trace = await get(`/api/traces/${traceId}`);
      expect(trace.status).toBe(200);
      expect(trace.text.length).toBeLessThan(500 * 1200);
      const span = await get(`/api/traces/${traceId}/spans/${spanId(1)}`);
      // The selected span's reason whole (up to 64 KiB), though its attributes come as cut text.
      expect(span.body.crash_reason).toBe(`${reason(0)}1`);
      expect(typeof span.body.attributes).toBe('string');
      // The last 20 lines up to 64 KiB each, older ones up to 4 KiB.
      expect(span.text.length).toBeLessThan(2 * (20 * 70_000) + (180 + 30) * 5_000 + 200_000);
      const bodies = span.body.logs.map((log: any) => log.fields.body as string);
      expect(bodies).toHaveLength(200);
      expect(bodies[199]).toMatch(/^200 b+… \(cut for the viewer\)$/);
      expect(bodies[199]).toHaveLength(65_536);
      expect(bodies[0]).toHaveLength(4096);
      // Its writer read by PostgreSQL: attributes past 1 MiB of JSON come as text, and the
      // process's last lines were left out (a review).
      expect(span.body.process_logs).toMatchObject({ writer_id: 'w-bounded' });
      expect(span.body.process_logs.logs).toHaveLength(50);
    } finally {
      await db.query(`DELETE FROM "${schema}".logs WHERE trace_id = $1`, [traceId]);
      await db.query(`DELETE FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
    }
  });

  test('hostile input stays data: bind parameters, validated ids and cursors', async () => {
    for (const service of ["shop' OR '1'='1", "'; DROP TABLE spans; --", HOSTILE_NAME]) {
      const { status, body } = await get(`/api/traces?service=${encodeURIComponent(service)}`);
      expect(status).toBe(200);
      expect(body.rows).toEqual([]);
    }
    expect((await get(`/api/traces/${encodeURIComponent("x' OR '1'='1")}`)).status).toBe(400);
    expect((await get(`/api/traces?after=${encodeURIComponent("1.abc' --")}`)).status).toBe(400);
    expect((await get('/api/traces?state=lost')).status).toBe(400);
    expect((await get('/api/crashes?from=yesterday')).status).toBe(400);
    // Valid to JavaScript, out of PostgreSQL's range: a clear 400, not a 500 and a SQL error.
    expect((await get(`/api/traces?after=99999999999999999999.${'a'.repeat(32)}`)).status).toBe(400);
    expect((await get(`/api/crashes?from=${encodeURIComponent('-271821-04-20T00:00:00Z')}`)).status).toBe(400);
    expect((await get(`/api/traces?to=${encodeURIComponent('+275760-09-13T00:00:00Z')}`)).status).toBe(400);
    expect((await get(`/api/traces/${'0'.repeat(32)}`)).status).toBe(404);
    // PostgreSQL's text holds no NUL: a 400 naming the parameter, not a 500 and a SQL error.
    const nul = await get('/api/traces?service=%00');
    expect(nul).toMatchObject({ status: 400, body: { error: 'service must not contain a NUL character' } });
    // A span the trace does not have: 404, not 200 with every field null.
    expect((await get(`/api/traces/${shop.traceId}/spans/${'0'.repeat(16)}`)).status).toBe(404);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBeGreaterThan(0);
    const post = await fetch(new URL('/api/traces', viewer.url), { method: 'POST' });
    expect(post.status).toBe(405);
  });

  /** A raw HTTP/1.1 request with `target` as its request-target, as a client may send it; the status line's code. */
  const rawStatus = (target: string) =>
    new Promise<number>((resolve, reject) => {
      const { hostname, port } = new URL(viewer.url);
      const socket = connect(Number(port), hostname, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n\r\n`));
      let text = '';
      socket.on('data', (chunk) => (text += chunk)).on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]))).on('error', reject);
    });

  test("a request-target that is no URL is a 400, not a 500 blaming the database, and the terminal does not log it (anyone could fill it)", async () => {
    const errorsBefore = viewer.err.length;
    for (const target of ['http://[', 'http://%zz/', 'http://x:99999/']) expect(await rawStatus(target)).toBe(400);
    expect(viewer.err.slice(errorsBefore).join('\n')).not.toContain('Invalid URL');
  });

  test('a trace address with its id in capitals (as other tools print it) leads to the trace, not to a JSON "not found"', async () => {
    const page = await fetch(new URL(`/traces/${shop.traceId.toUpperCase()}?from=x`, viewer.url), { redirect: 'manual' });
    expect(page.status).toBe(308);
    expect(page.headers.get('location')).toBe(`/traces/${shop.traceId}?from=x`);
    const api = await get(`/api/traces/${shop.traceId.toUpperCase()}`);
    expect(api.status).toBe(200);
    expect(api.body.traceId).toBe(shop.traceId);
  });

  test("another site's page cannot make the visitor's browser query the database: a cross-site API request is refused before any query", async () => {
    const asked = (site: string) => fetch(new URL('/api/crashes', viewer.url), { headers: { 'Sec-Fetch-Site': site } });
    expect((await asked('cross-site')).status).toBe(403);
    expect((await asked('same-site')).status).toBe(403);
    expect((await asked('same-origin')).status).toBe(200);
    expect((await asked('none')).status).toBe(200); // typed into the address bar
    // A link from elsewhere to a trace's page still opens it.
    expect((await fetch(new URL(`/traces/${shop.traceId}`, viewer.url), { headers: { 'Sec-Fetch-Site': 'cross-site' } })).status).toBe(200);
  });

  test('the page is served with a CSP that forbids inline script, and never contains data', async () => {
    const page = await get(`/traces/${shop.traceId}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.text).not.toContain('charge card');
    expect((await get('/viewer.js')).status).toBe(200);
  });

  test('prints its URL, binds to loopback without a warning, and never prints the password', async () => {
    expect(viewer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(viewer.out.join('\n')).toContain(viewer.url);
    expect(viewer.err.join('\n')).not.toContain('WARNING');
    // A failing query (a schema dropped while the viewer runs) reports an error, still
    // without the password. (A schema missing at start is refused: schemaAdvice.test.ts.)
    const dropped = await db.freshSchema('viewer_api_dropped');
    await migrateSchema(db.pool, dropped);
    const broken = await startViewer(['--database', urlWithPassword(), '--schema', dropped]);
    await db.query(`DROP SCHEMA "${dropped}" CASCADE`);
    const failed = await fetch(new URL('/api/traces', broken.url));
    expect(failed.status).toBe(500);
    const failedText = await failed.text();
    await broken.stop();
    // The detail goes to the terminal that started the viewer, not to whoever asks.
    expect(broken.err.join('\n')).toContain(dropped);
    expect(JSON.parse(failedText)).toEqual({ error: "the database query failed: the viewer's terminal says why", sqlState: '42P01' });
    for (const text of [viewer.out.join('\n'), viewer.err.join('\n'), broken.out.join('\n'), broken.err.join('\n'), failedText]) {
      expect(text).not.toContain(PASSWORD);
    }
  });

  const askAs = (base: string, host: string, path: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const url = new URL(path, base);
      const request = httpGet({ hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port, path: url.pathname, headers: { Host: host } }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: response.statusCode!, text }));
      });
      request.on('error', reject);
    });

  test.each([
    ['127.0.0.2', '127.0.0.2'],
    ['127.1', '127.0.0.1'],
    ['0:0:0:0:0:0:0:1', '[::1]'],
    ['::ffff:127.0.0.1', '[::ffff:7f00:1]'],
    // As a URL writes it (it failed with ENOTFOUND: a review).
    ['[::1]', '[::1]'],
  ])('every loopback address counts as loopback, however written: %s answers to %s, not to another site, without a warning', async (host, name) => {
    const other = await startViewer(['--database', db.url, '--schema', schema, '--host', host]);
    try {
      const port = new URL(other.url).port;
      expect((await askAs(other.url, `attacker.example:${port}`, '/api/services')).status).toBe(403);
      expect((await askAs(other.url, `${name}:${port}`, '/api/services')).status).toBe(200);
    } finally {
      await other.stop();
    }
    expect(other.err.join('\n')).not.toContain('WARNING');
  });

  test('on loopback it answers only to loopback names: a page of another site rebound to 127.0.0.1 reads nothing', async () => {
    const ask = (host: string, path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const url = new URL(path, viewer.url);
        const request = httpGet({ hostname: url.hostname, port: url.port, path: url.pathname, headers: { Host: host } }, (response) => {
          let text = '';
          response.on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: response.statusCode!, text }));
        });
        request.on('error', reject);
      });
    const port = new URL(viewer.url).port;
    for (const path of ['/api/services', '/api/crashes', '/']) {
      const rebound = await ask(`attacker.example:${port}`, path);
      expect(rebound.status).toBe(403);
      expect(rebound.text).not.toContain('checkout');
    }
    for (const name of ['localhost', '127.0.0.1', '[::1]']) expect((await ask(`${name}:${port}`, '/api/services')).status).toBe(200);
  });

  test('--host other than loopback warns that there is no authentication, and that any Host name is answered (DNS rebinding)', async () => {
    const open = await startViewer(['--database', db.url, '--schema', schema, '--host', '0.0.0.0']);
    await open.stop();
    expect(open.err.join('\n')).toMatch(/WARNING: listening on 0\.0\.0\.0.*no authentication.*DNS rebinding/);
  });

  test('lists crash records by the time of the crash: a long task that crashed last comes first, and from/to bound that time', async () => {
    const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
    const now = Date.now() + 7_200_000; // later than every other row of the schema
    const rows = [
      // [trace id, name, started ms, crashed ms]
      ['d'.repeat(32), 'long task', now - 3_600_000, now - 1_000],
      ['e'.repeat(32), 'short task', now - 600_000, now - 599_000],
    ] as const;
    for (const [traceId, name, started, crashed] of rows) {
      await db.query(
        `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, crash_reason, service_name)
         VALUES ($1, '4444444444444444', $2, 'INTERNAL', 'crashed', to_timestamp($3 / 1000.0), $4, to_timestamp($5 / 1000.0), $6, 'process vanished', 'batch')`,
        [traceId, name, started, ns(started), crashed, ns(crashed)],
      );
    }
    try {
      const all = await get('/api/crashes');
      expect(all.body.rows.slice(0, 2).map((row: any) => row.name)).toEqual(['long task', 'short task']);
      const since = await get(`/api/crashes?from=${encodeURIComponent(new Date(now - 300_000).toISOString())}`);
      expect(since.body.rows.map((row: any) => row.name)).toEqual(['long task']);
    } finally {
      for (const [traceId] of rows) await db.query(`DELETE FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
    }
  });

  test("list pages cut names and crash reasons as the trace view does: one crash's 1 MB reason made a 25 MB page", async () => {
    const traceId = 'c'.repeat(32);
    const reason = `Error: validation failed for payload ${'P'.repeat(1_000_000)}`;
    // The latest trace and the latest crash: an hour from now, in both times.
    const inAnHour = String(BigInt(Date.now() + 3_600_000) * 1_000_000n);
    await db.query(
      `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, crash_reason, service_name)
       VALUES ($1, '3333333333333333', $2, 'INTERNAL', 'crashed', now() + interval '1 hour', $3, now() + interval '1 hour', $3, $4, $5)`,
      [traceId, 'n'.repeat(2_000_000), inAnHour, reason, 's'.repeat(5000)],
    );
    await db.query(
      `INSERT INTO "${schema}".traces (trace_id, service_name, root_span_id, root_span_name, start_time, start_time_unix_nano)
       VALUES ($1, $2, '3333333333333333', $3, now() + interval '1 hour', $4)`,
      [traceId, 's'.repeat(5000), 'r'.repeat(2_000_000), inAnHour],
    );
    try {
      const crashes = await get('/api/crashes');
      expect(crashes.text.length).toBeLessThan(50_000);
      expect(crashes.body.rows[0]).toMatchObject({ trace_id: traceId, name: `${'n'.repeat(1000)}…`, service_name: `${'s'.repeat(1000)}…` });
      expect(crashes.body.rows[0].crash_reason).toBe(`${reason.slice(0, 4096)}…`);
      const traces = await get('/api/traces');
      expect(traces.text.length).toBeLessThan(50_000);
      expect(traces.body.rows[0]).toMatchObject({ trace_id: traceId, root_span_name: `${'r'.repeat(1000)}…`, service_name: `${'s'.repeat(1000)}…` });
      // A name too long for a menu is left out of it (the list still shows its rows).
      expect((await get('/api/services')).body.services).not.toContain('s'.repeat(5000));
    } finally {
      await db.query(`DELETE FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
      await db.query(`DELETE FROM "${schema}".traces WHERE trace_id = $1`, [traceId]);
    }
  });

  test("a span's attributes of many short strings are sent whole up to 1 MiB of JSON, then cut: 4 million strings were a 40 MB response", async () => {
    const traceId = 'd'.repeat(32);
    const many = Array.from({ length: 200_000 }, (_, i) => `v${i}`);
    await db.query(
      `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, attributes)
       VALUES ($1, '4444444444444444', 'many values', 'INTERNAL', 'ended', now(), $2, now(), $2, $3)`,
      [traceId, 1_764_000_000_000_000_000n, { many, small: 1 }],
    );
    try {
      const span = await get(`/api/traces/${traceId}/spans/4444444444444444`);
      expect(span.status).toBe(200);
      expect(span.text.length).toBeLessThan(100_000);
      expect(span.body.attributes).toMatch(/^\{"many": \["v0", "v1", .*… \(cut for the viewer: \d+ characters of JSON\)$/);
    } finally {
      await db.query(`DELETE FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
    }
  });

  test('--help documents every option; bad options are usage errors naming them', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line), interactive: false };
    expect(await main(['ui', '--help'], io)).toBe(0);
    for (const option of ['--database URL', '--schema NAME', '--port N', '--host ADDR', '--help']) expect(out.join('\n')).toContain(option);
    expect(out.join('\n')).toContain('4455');
    expect(await main(['ui', '--port', 'eighty'], io)).toBe(2);
    expect(err.join('\n')).toContain('--port');
    expect(await main(['ui', '--schema', 'Robert"); DROP'], io)).toBe(2);
    expect(err.join('\n')).toContain('--schema');
  });
});
