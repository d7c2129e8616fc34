// `ended` > `crashed` > `started`, whatever order the records arrive in, and crash records
// land with the columns lifted from the processor's marker attributes.
import { SpanStatusCode } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { ATTR_CRASH_REASON, ATTR_END_TIME_ESTIMATED, ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, ids, recordSpans, withAttributes } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('precedence');
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

async function oneSpan(name: string): Promise<ReadableSpan> {
  const [span] = await recordSpans((tracer) => {
    tracer.startSpan(name, { attributes: { 'order.id': 42 } }).end();
  });
  return span!;
}

function crashed(span: ReadableSpan): ReadableSpan {
  // As recovery makes it (crashRecords.ts): status ERROR, the reason its message.
  const attributes = { ...span.attributes, [ATTR_SPAN_STATE]: 'crashed', [ATTR_CRASH_REASON]: 'uncaught TypeError: boom', [ATTR_END_TIME_ESTIMATED]: true };
  return withAttributes(span, attributes, { status: { code: SpanStatusCode.ERROR, message: 'uncaught TypeError: boom' } });
}

function started(span: ReadableSpan): ReadableSpan {
  return withAttributes(span, { [ATTR_SPAN_STATE]: 'started' }, { endTime: [0, 0], ended: false });
}

async function stored(span: ReadableSpan) {
  const { traceId, spanId } = ids(span);
  const rows = await db.query(
    `SELECT state, crash_reason, end_time_estimated, attributes, end_time_unix_nano
       FROM "${schema}".spans WHERE trace_id = $1 AND span_id = $2`,
    [traceId, spanId],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

async function write(...spans: ReadableSpan[]): Promise<void> {
  expect(await exportSpans(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
}

describe('state precedence', () => {
  it('lands a crash record with state, crash_reason and end_time_estimated (markers kept in attributes)', async () => {
    const span = await oneSpan('crash-only');
    await write(crashed(span));
    const row = await stored(span);
    expect(row).toMatchObject({ state: 'crashed', crash_reason: 'uncaught TypeError: boom', end_time_estimated: true });
    expect(row.attributes).toMatchObject({ [ATTR_SPAN_STATE]: 'crashed', 'order.id': 42 });
  });

  it("an application's span carrying the marker attributes is stored ended: only a span of the markers' shape is a crash record or a 'started' row", async () => {
    // Before, the columns came from the attributes alone: an ended span the application
    // marked 'started' stayed 'started' for good (nothing outranks it), and one marked
    // 'crashed' was listed by `otel-blackbox crashes` (found by a data-fidelity review).
    const [asStartedByHand, asCrashedByHand] = [await oneSpan('marked started by hand'), await oneSpan('marked crashed by hand')];
    const marked = {
      started: withAttributes(asStartedByHand, { ...asStartedByHand.attributes, [ATTR_SPAN_STATE]: 'started' }),
      crashed: withAttributes(asCrashedByHand, { ...asCrashedByHand.attributes, [ATTR_SPAN_STATE]: 'crashed', [ATTR_CRASH_REASON]: 'not a crash', [ATTR_END_TIME_ESTIMATED]: true }),
    };
    await write(marked.started, marked.crashed);
    expect(await stored(asStartedByHand)).toMatchObject({ state: 'ended', crash_reason: null, end_time_estimated: false, attributes: { [ATTR_SPAN_STATE]: 'started' } });
    expect(await stored(asCrashedByHand)).toMatchObject({ state: 'ended', crash_reason: null, end_time_estimated: false, attributes: { [ATTR_CRASH_REASON]: 'not a crash' } });
  });

  it('keeps ended when a crash record arrives later', async () => {
    const span = await oneSpan('ended-then-crashed');
    await write(span);
    await write(crashed(span));
    expect(await stored(span)).toMatchObject({ state: 'ended', crash_reason: null, end_time_estimated: false });
  });

  it('replaces a crash record by the real end', async () => {
    const span = await oneSpan('crashed-then-ended');
    await write(crashed(span));
    await write(span);
    expect(await stored(span)).toMatchObject({ state: 'ended', crash_reason: null, end_time_estimated: false });
  });

  it('replaces started by crashed, and never crashed by started', async () => {
    const span = await oneSpan('started-crashed-started');
    await write(started(span));
    expect(await stored(span)).toMatchObject({ state: 'started', end_time_unix_nano: null });
    await write(crashed(span));
    await write(started(span));
    expect(await stored(span)).toMatchObject({ state: 'crashed' });
  });

  it("keeps what the 'started' row knew that the crash record's START did not: attributes set since, links, dropped counts", async () => {
    // The crash record is made from the START; the 'started' row from the live span later.
    // Replacing it erased what the row knew more (an upgrade review: a START of an older
    // release has no links; and an attribute set after the start was lost to every crash).
    const span = await oneSpan('started-knows-more');
    const [linked] = await recordSpans((tracer) => tracer.startSpan('linked').end());
    const links = [{ context: linked!.spanContext(), attributes: { 'messaging.batch.index': 1 } }];
    const startedRow = withAttributes(span, { ...span.attributes, 'order.id': 43, late: 'set after the start', [ATTR_SPAN_STATE]: 'started' }, {
      endTime: [0, 0],
      ended: false,
      links,
      droppedAttributesCount: 2,
      droppedLinksCount: 1,
      droppedEventsCount: 3,
    });
    await write(startedRow);
    await write(crashed(span));
    const row = await stored(span);
    expect(row).toMatchObject({ state: 'crashed', crash_reason: 'uncaught TypeError: boom' });
    expect(row.attributes).toEqual({ 'order.id': 43, late: 'set after the start', [ATTR_SPAN_STATE]: 'crashed', [ATTR_CRASH_REASON]: 'uncaught TypeError: boom', [ATTR_END_TIME_ESTIMATED]: true });
    const [full] = await db.query(`SELECT links, dropped_attributes_count AS da, dropped_links_count AS dl, dropped_events_count AS de FROM "${schema}".spans WHERE trace_id = $1 AND span_id = $2`, [ids(span).traceId, ids(span).spanId]);
    expect(full).toMatchObject({ da: 2, dl: 1, de: 3, links: [{ span_id: ids(linked!).spanId, attributes: { 'messaging.batch.index': 1 } }] });
  });

  it.each([
    { order: 'crashed first', batch: (s: ReadableSpan) => [crashed(s), s] },
    { order: 'ended first', batch: (s: ReadableSpan) => [s, crashed(s)] },
  ])('keeps ended when one batch holds both versions ($order)', async ({ batch }) => {
    const span = await oneSpan('both-in-one-batch');
    await write(...batch(span));
    expect(await stored(span)).toMatchObject({ state: 'ended' });
  });

  it('names the trace after its root as it ended, though a started row of it came first (HTTP instrumentations rename the root)', async () => {
    const span = await oneSpan('GET /users/:id');
    const early = withAttributes(started(span), { [ATTR_SPAN_STATE]: 'started' }, { name: 'GET' });
    const trace = async () => (await db.query(`SELECT root_span_id, root_span_name FROM "${schema}".traces WHERE trace_id = $1`, [ids(span).traceId]))[0];
    await write(early);
    expect(await trace()).toEqual({ root_span_id: ids(span).spanId, root_span_name: 'GET' });
    await write(span);
    expect(await trace()).toEqual({ root_span_id: ids(span).spanId, root_span_name: 'GET /users/:id' });
    // A replay of the started row, or a crash record (named as at start), renames it no more.
    await write(early);
    await write(withAttributes(crashed(span), crashed(span).attributes, { name: 'GET' }));
    expect(await trace()).toEqual({ root_span_id: ids(span).spanId, root_span_name: 'GET /users/:id' });
  });
});
