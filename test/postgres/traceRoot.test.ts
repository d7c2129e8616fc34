// Which span names a trace. A service behind another (its requests carry a `traceparent`)
// has no span without a parent: its first span's parent is in the upstream process. Before,
// every such trace was stored with no root, and the viewer listed each as
// "(root not recorded)". Now that span names the trace, until a span without a parent
// (the upstream's, writing to the same schema) arrives and takes over.
import { ROOT_CONTEXT, SpanKind, context, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, ids, recordSpans } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('trace_root');
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

/**
 * One trace across two services: the gateway's root (no parent) calls the orders service,
 * whose server span's parent is the gateway's span, received as remote. The orders service
 * is called twice in the trace (two local roots).
 */
async function twoServices(): Promise<{ gateway: ReadableSpan; server: ReadableSpan; child: ReadableSpan; secondServer: ReadableSpan }> {
  const spans = await recordSpans((tracer) => {
    const gateway = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
    const received = trace.setSpanContext(context.active(), { ...gateway.spanContext(), isRemote: true });
    const server = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER }, received);
    tracer.startSpan('SELECT orders', {}, trace.setSpan(context.active(), server)).end();
    server.end();
    // Started a millisecond after the first call (start times are what orders them).
    tracer.startSpan('GET /orders/:id/lines', { kind: SpanKind.SERVER, startTime: Date.now() + 1 }, received).end();
    gateway.end();
  });
  const named = (name: string) => spans.find((span) => span.name === name)!;
  return { gateway: named('GET /checkout'), server: named('GET /orders/:id'), child: named('SELECT orders'), secondServer: named('GET /orders/:id/lines') };
}

async function write(...spans: ReadableSpan[]): Promise<void> {
  expect(await exportSpans(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
}

async function traceRow(span: ReadableSpan) {
  const rows = await db.query(`SELECT root_span_id, root_span_name, root_span_ended, root_parent_is_remote FROM "${schema}".traces WHERE trace_id = $1`, [ids(span).traceId]);
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

describe("a trace's root", () => {
  it('is the span whose parent is in another process, when no span without a parent is stored', async () => {
    const { server, child } = await twoServices();
    await write(child, server);
    expect(await traceRow(server)).toEqual({ root_span_id: ids(server).spanId, root_span_name: 'GET /orders/:id', root_span_ended: true, root_parent_is_remote: true });
  });

  // The service called twice in one trace: the call that started first names it, however
  // the spans were batched (a batch's rows are sorted by span id) and in whatever order
  // the batches commit (several export at once). Twenty traces: span ids are random.
  describe.each([
    { batching: 'one batch', batches: (first: ReadableSpan, second: ReadableSpan) => [[first, second]] },
    { batching: 'one batch, the later call first', batches: (first: ReadableSpan, second: ReadableSpan) => [[second, first]] },
    { batching: 'the later call in an earlier batch', batches: (first: ReadableSpan, second: ReadableSpan) => [[second], [first]] },
    { batching: 'the earlier call in an earlier batch', batches: (first: ReadableSpan, second: ReadableSpan) => [[first], [second]] },
  ])('of a service called twice in the trace ($batching)', ({ batches }) => {
    it('is the call that started first', async () => {
      for (let i = 0; i < 20; i++) {
        const { server, secondServer } = await twoServices();
        for (const batch of batches(server, secondServer)) await write(...batch);
        expect(await traceRow(server)).toMatchObject({ root_span_id: ids(server).spanId, root_span_name: 'GET /orders/:id', root_parent_is_remote: true });
      }
    });
  });

  describe.each([
    { arrival: 'the upstream root in a later batch', batches: (s: Awaited<ReturnType<typeof twoServices>>) => [[s.server, s.child], [s.gateway], [s.secondServer]] },
    { arrival: 'the upstream root in an earlier batch', batches: (s: Awaited<ReturnType<typeof twoServices>>) => [[s.gateway], [s.server, s.child, s.secondServer]] },
    { arrival: 'one batch, the local root first', batches: (s: Awaited<ReturnType<typeof twoServices>>) => [[s.server, s.child, s.gateway, s.secondServer]] },
    { arrival: 'one batch, the upstream root first', batches: (s: Awaited<ReturnType<typeof twoServices>>) => [[s.gateway, s.server, s.child]] },
  ])('when a span without a parent arrives ($arrival)', ({ batches }) => {
    it('it names the trace, for good', async () => {
      const services = await twoServices();
      for (const batch of batches(services)) await write(...batch);
      expect(await traceRow(services.gateway)).toEqual({ root_span_id: ids(services.gateway).spanId, root_span_name: 'GET /checkout', root_span_ended: true, root_parent_is_remote: false });
    });
  });

  // The query README.md and docs/postgres-exporter.md give, anchored on the spans whose
  // parent is not stored: a trace of a service behind another has no span without a parent.
  const treeSql = (s: string) => `WITH RECURSIVE tree AS (
  SELECT trace_id, span_id, name, 0 AS depth, name AS path
    FROM "${s}".spans r WHERE trace_id = $1
     AND NOT EXISTS (SELECT 1 FROM "${s}".spans p WHERE p.trace_id = r.trace_id AND p.span_id = r.parent_span_id)
  UNION ALL
  SELECT s.trace_id, s.span_id, s.name, t.depth + 1, t.path || ' > ' || s.name
    FROM "${s}".spans s JOIN tree t ON s.trace_id = $1 AND s.parent_span_id = t.span_id)
SELECT depth, path FROM tree ORDER BY path`;

  it('the documented tree query walks the trace from what is stored: the local roots alone, then under the upstream root', async () => {
    const { gateway, server, child, secondServer } = await twoServices();
    await write(server, child, secondServer);
    expect(await db.query(treeSql(schema), [ids(server).traceId])).toEqual([
      { depth: 0, path: 'GET /orders/:id' },
      { depth: 1, path: 'GET /orders/:id > SELECT orders' },
      { depth: 0, path: 'GET /orders/:id/lines' },
    ]);
    await write(gateway);
    expect(await db.query(treeSql(schema), [ids(server).traceId])).toEqual([
      { depth: 0, path: 'GET /checkout' },
      { depth: 1, path: 'GET /checkout > GET /orders/:id' },
      { depth: 2, path: 'GET /checkout > GET /orders/:id > SELECT orders' },
      { depth: 1, path: 'GET /checkout > GET /orders/:id/lines' },
    ]);
  });
});
