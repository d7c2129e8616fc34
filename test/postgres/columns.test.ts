// What a span looks like in the tables: ids as the hex users see, parents, events as logs,
// nanoseconds kept exactly.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { exportSpans, ids, recordSpans } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('columns');
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

describe('stored columns', () => {
  it('are queryable by hex ids as written, with parents, events and exact nanoseconds', async () => {
    const spans = await recordSpans((tracer) => {
      const root = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, startTime: [1_763_790_123, 456_789_123] });
      const child = tracer.startSpan(
        'SELECT orders',
        { kind: SpanKind.CLIENT, startTime: [1_763_790_123, 500_000_001], links: [{ context: root.spanContext(), attributes: { why: 'test' } }] },
        trace.setSpan(context.active(), root),
      );
      child.addEvent('rows fetched', { rows: 3 }, [1_763_790_123, 600_000_007]);
      child.addEvent('cache miss', undefined, [1_763_790_123, 600_000_008]);
      child.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
      child.end([1_763_790_123, 700_000_009]);
      root.end([1_763_790_124, 1]);
    });
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const child = spans.find((s) => s.name === 'SELECT orders')!;
    const root = spans.find((s) => s.name === 'GET /orders/:id')!;
    const { traceId, spanId } = ids(child);

    const [row] = await db.query(`SELECT * FROM "${schema}".spans WHERE trace_id = '${traceId}' AND span_id = '${spanId}'`);
    expect(row).toMatchObject({
      parent_span_id: ids(root).spanId,
      name: 'SELECT orders',
      kind: 'CLIENT',
      state: 'ended',
      status_code: 'ERROR',
      status_message: 'timeout',
      start_time_unix_nano: '1763790123500000001',
      end_time_unix_nano: '1763790123700000009',
      duration_ns: '200000008',
      service_name: 'checkout',
      scope_name: 'otel-blackbox-test',
      scope_version: '0.0.1',
      resource: { 'service.name': 'checkout', 'service.version': '1.2.3' },
      // The root is a span of this process, sampled: not remote, flags 1 (OTLP's Link.flags).
      links: [{ trace_id: traceId, span_id: ids(root).spanId, trace_state: null, trace_flags: 1, is_remote: false, attributes: { why: 'test' }, dropped_attributes_count: 0 }],
    });
    const [times] = await db.query(
      `SELECT start_time = '2025-11-22 05:42:03.500000+00'::timestamptz AS start_ok, to_char(end_time AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS end_text
         FROM "${schema}".spans WHERE span_id = $1`,
      [spanId],
    );
    expect(times).toEqual({ start_ok: true, end_text: '05:42:03.700000' });

    const logs = await db.query(
      `SELECT event_index, event_name, time_unix_nano, attributes FROM "${schema}".logs
        WHERE trace_id = '${traceId}' AND span_id = '${spanId}' ORDER BY event_index`,
    );
    expect(logs).toEqual([
      { event_index: 0, event_name: 'rows fetched', time_unix_nano: '1763790123600000007', attributes: { rows: 3 } },
      { event_index: 1, event_name: 'cache miss', time_unix_nano: '1763790123600000008', attributes: {} },
    ]);

    const [traceRow] = await db.query(`SELECT * FROM "${schema}".traces WHERE trace_id = '${traceId}'`);
    expect(traceRow).toMatchObject({
      service_name: 'checkout',
      root_span_id: ids(root).spanId,
      root_span_name: 'GET /orders/:id',
      start_time_unix_nano: '1763790123456789123',
      end_time_unix_nano: '1763790124000000001',
    });
  });

  it("stores whether a span's parent came from another process, and the resource's and scope's schema URLs", async () => {
    // What OTLP carries in Span.flags (bits 8 and 9) and in ResourceSpans/ScopeSpans.schema_url.
    const resource = resourceFromAttributes({ 'service.name': 'checkout' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
    const remote = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true };
    const spans = await recordSpans((tracer) => {
      const server = tracer.startSpan('server', {}, trace.setSpanContext(context.active(), remote));
      tracer.startSpan('local child', {}, trace.setSpan(context.active(), server)).end();
      server.end();
      tracer.startSpan('no parent', {}, ROOT_CONTEXT).end();
    }, resource, { schemaUrl: 'https://opentelemetry.io/schemas/1.27.0' });
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const rows = await db.query(
      `SELECT name, parent_span_id, parent_is_remote, resource_schema_url, scope_schema_url FROM "${schema}".spans WHERE span_id = ANY($1) ORDER BY name`,
      [spans.map((span) => span.spanContext().spanId)],
    );
    const urls = { resource_schema_url: 'https://opentelemetry.io/schemas/1.26.0', scope_schema_url: 'https://opentelemetry.io/schemas/1.27.0' };
    expect(rows).toEqual([
      { name: 'local child', parent_span_id: ids(spans.find((s) => s.name === 'server')!).spanId, parent_is_remote: false, ...urls },
      { name: 'no parent', parent_span_id: null, parent_is_remote: null, ...urls },
      { name: 'server', parent_span_id: remote.spanId, parent_is_remote: true, ...urls },
    ]);
    // Without schema URLs (most instrumentations give none), the columns stay null.
    const [plain] = await db.query(`SELECT resource_schema_url, scope_schema_url FROM "${schema}".spans WHERE name = 'SELECT orders'`);
    expect(plain).toEqual({ resource_schema_url: null, scope_schema_url: null });
  });

  it('walks a trace tree with the documented recursive query', async () => {
    const spans = await recordSpans((tracer) => {
      const root = tracer.startSpan('root');
      const a = tracer.startSpan('a', {}, trace.setSpan(context.active(), root));
      tracer.startSpan('a.1', {}, trace.setSpan(context.active(), a)).end();
      a.end();
      tracer.startSpan('b', {}, trace.setSpan(context.active(), root)).end();
      root.end();
    });
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const rows = await db.query(
      `WITH RECURSIVE tree AS (
         SELECT trace_id, span_id, name, 0 AS depth, name AS path FROM "${schema}".spans
          WHERE trace_id = $1 AND parent_span_id IS NULL
         UNION ALL
         SELECT s.trace_id, s.span_id, s.name, t.depth + 1, t.path || ' > ' || s.name
           FROM "${schema}".spans s JOIN tree t ON s.trace_id = t.trace_id AND s.parent_span_id = t.span_id)
       SELECT depth, path FROM tree ORDER BY path`,
      [spans[0]!.spanContext().traceId],
    );
    expect(rows).toEqual([
      { depth: 0, path: 'root' },
      { depth: 1, path: 'root > a' },
      { depth: 2, path: 'root > a > a.1' },
      { depth: 1, path: 'root > b' },
    ]);
  });
});
