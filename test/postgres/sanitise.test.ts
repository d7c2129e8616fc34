// Strings PostgreSQL refuses (NUL, lone surrogates) and values JSON cannot hold are
// stored repaired, never fatal to the batch.
import { context, trace, type Attributes, type TraceState } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { decodeAttributes } from '../../src/journal/attributeValues.js';
import { recordJson, startRecord } from '../../src/journal/spanRecords.js';
import { toJsonText, toOptionalJsonText } from '../../src/postgres/sanitize.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, ids, recordSpans, withAttributes } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('sanitise');
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

// NUL, a lone high surrogate, a lone low surrogate, and a valid pair that must survive.
const BAD = 'a\u0000b\uD800c\uDC00d\uD83D\uDE00';
const FIXED = 'a\uFFFDb\uFFFDc\uFFFDd\uD83D\uDE00';

describe('sanitising', () => {
  it('repairs NUL and lone surrogates in every string field and key', async () => {
    const resource = resourceFromAttributes({ 'service.name': BAD, [`key${BAD}`]: BAD });
    const spans = await recordSpans((tracer) => {
      const parent = tracer.startSpan('parent');
      const span = tracer.startSpan(
        `name${BAD}`,
        { attributes: { [`key${BAD}`]: BAD, list: [BAD, 'ok'] }, links: [{ context: parent.spanContext(), attributes: { [`link${BAD}`]: BAD } }] },
        trace.setSpan(context.active(), parent),
      );
      span.addEvent(`event${BAD}`, { [`event-key${BAD}`]: BAD });
      span.setStatus({ code: 2, message: `status${BAD}` });
      span.end();
      parent.end();
    }, resource);
    const span = spans.find((s) => s.name.startsWith('name'))!;
    // Scope and trace state cannot carry these through the SDK's own checks; a journal can.
    const traceState: TraceState = { set: () => traceState, unset: () => traceState, get: () => undefined, serialize: () => `vendor=${BAD}` };
    const withOddScope = withAttributes(span, span.attributes, {
      instrumentationScope: { name: `scope${BAD}`, version: BAD },
      spanContext: () => ({ ...span.spanContext(), traceState }),
    });

    expect(await exportSpans(exporter, [withOddScope, spans.find((s) => s.name === 'parent')!])).toEqual({ code: ExportResultCode.SUCCESS });

    const { traceId, spanId } = ids(span);
    const [row] = await db.query(`SELECT * FROM "${schema}".spans WHERE trace_id = $1 AND span_id = $2`, [traceId, spanId]);
    expect(row).toMatchObject({
      name: `name${FIXED}`,
      trace_state: `vendor=${FIXED}`,
      status_message: `status${FIXED}`,
      scope_name: `scope${FIXED}`,
      scope_version: FIXED,
      service_name: FIXED,
      attributes: { [`key${FIXED}`]: FIXED, list: [FIXED, 'ok'] },
      resource: { 'service.name': FIXED, [`key${FIXED}`]: FIXED },
    });
    expect(row!.links[0].attributes).toEqual({ [`link${FIXED}`]: FIXED });
    const [log] = await db.query(`SELECT event_name, attributes FROM "${schema}".logs WHERE trace_id = $1 AND span_id = $2`, [traceId, spanId]);
    expect(log).toEqual({ event_name: `event${FIXED}`, attributes: { [`event-key${FIXED}`]: FIXED } });
    const [traceRow] = await db.query(`SELECT service_name FROM "${schema}".traces WHERE trace_id = $1`, [traceId]);
    expect(traceRow).toEqual({ service_name: FIXED });
  });

  it('stores values that are not attribute values (as a journal replay may hand them over)', async () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const [span] = await recordSpans((tracer) => tracer.startSpan('odd values').end());
    const attributes = {
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      negInf: [Number.NEGATIVE_INFINITY, 1],
      big: 12345678901234567890n,
      nested: [[1, [2, 'x\u0000']], []],
      circular,
      missing: undefined,
      empty: null,
      date: new Date('2025-01-02T03:04:05.000Z'),
      // Left out of maps as JSON.stringify, and the journal's copy, leave them (null in arrays).
      map: { a: undefined, b: 1, f: () => 1 },
      list: [{ x: undefined }, undefined],
      fn: () => 1,
    } as unknown as Attributes;

    expect(await exportSpans(exporter, [withAttributes(span!, attributes)])).toEqual({ code: ExportResultCode.SUCCESS });

    const [row] = await db.query(`SELECT attributes FROM "${schema}".spans WHERE span_id = $1`, [ids(span!).spanId]);
    expect(row!.attributes).toEqual({
      nan: 'NaN',
      inf: 'Infinity',
      negInf: ['-Infinity', 1],
      big: '12345678901234567890',
      nested: [[1, [2, 'x\uFFFD']], []],
      circular: { name: 'loop', self: '[Circular]' },
      empty: null,
      date: '2025-01-02T03:04:05.000Z',
      map: { b: 1 },
      list: [{}, null],
    });
    // Read back from a journal, the same span stores the same map.
    expect(row!.attributes).toEqual(JSON.parse(toJsonText(decodeAttributes(JSON.parse(recordJson(startRecord(withAttributes(span!, attributes), 1)))))));
  });

  it("leaves out what a toJSON() gives as undefined and an Error's function fields, as the journal's copy does", async () => {
    const [span] = await recordSpans((tracer) => tracer.startSpan('omitted values').end());
    const attributes = {
      lazy: { toJSON: () => undefined },
      quiet: { inner: { toJSON: () => undefined }, keep: 1 },
      listed: [{ toJSON: () => undefined }],
      error: Object.assign(new Error('boom'), { retry: () => 1, code: 'E_BOOM' }),
    } as unknown as Attributes;
    expect(await exportSpans(exporter, [withAttributes(span!, attributes)])).toEqual({ code: ExportResultCode.SUCCESS });
    const [row] = await db.query(`SELECT attributes FROM "${schema}".spans WHERE span_id = $1`, [ids(span!).spanId]);
    expect(row!.attributes).not.toHaveProperty('lazy');
    expect(row!.attributes).toMatchObject({ quiet: { keep: 1 }, listed: [null], error: { message: 'boom', code: 'E_BOOM' } });
    expect(row!.attributes.quiet).not.toHaveProperty('inner');
    expect(row!.attributes.error).not.toHaveProperty('retry');
    expect(row!.attributes).toEqual(JSON.parse(toJsonText(decodeAttributes(JSON.parse(recordJson(startRecord(withAttributes(span!, attributes), 1)))))));
  });

  it("a log body JSON.stringify would write nothing for is no body, as after the journal's round trip; a Map or Set costs no level of its own", () => {
    expect([toOptionalJsonText(() => 1), toOptionalJsonText({ toJSON: () => undefined }), toOptionalJsonText(undefined), toOptionalJsonText(null)]).toEqual([null, null, null, 'null']);
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20; i++) deep = new Map([['next', deep]]);
    // 20 Maps deep: within the 32 levels, as the journal's copy keeps them (each Map cost two).
    expect(toJsonText(deep)).not.toContain('[Too deep]');
  });

  it('keeps both values of two keys the repair makes equal: a key that needed none keeps its name, a repaired one gets one more U+FFFD', () => {
    // Before: 'a\0' became 'a\uFFFD', and the later of the two values replaced the other, unmarked.
    const expected = { 'a\uFFFD': 2, 'a\uFFFD\uFFFD': 1, b: { 'x\uFFFD': 3, 'x\uFFFD\uFFFD': 4 } };
    expect(JSON.parse(toJsonText({ 'a\0': 1, 'a\uFFFD': 2, b: { 'x\0': 3, 'x\uD800': 4 } }))).toEqual(expected);
    // Whichever comes first.
    expect(JSON.parse(toJsonText({ 'a\uFFFD': 2, 'a\0': 1, b: { 'x\0': 3, 'x\uD800': 4 } }))).toEqual(expected);
  });

  it('stores a time beyond ±2^62 ns (1823 to 2116) at the nearest in it, with its duration, and the rest of the batch with it', async () => {
    // Milliseconds given where the SDK takes them, but a million times too many (year ~55,000),
    // and a time before 1677: neither fits int64 nanoseconds. A start in 1716 fits, but its
    // duration to today does not.
    const spans = await recordSpans((tracer) => {
      tracer.startSpan('far future', { startTime: Date.now() * 1e6 }).end(Date.now() * 1e6 + 1000);
      tracer.startSpan('far past', { startTime: -2e13 }).end(-2e13 + 1000);
      tracer.startSpan('since 1716', { startTime: Date.UTC(1716, 0, 1) - performance.timeOrigin }).end();
      tracer.startSpan('ordinary').end();
    });
    expect(await exportSpans(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
    const rows = await db.query<{ name: string; start: string; end: string; duration: string }>(
      `SELECT name, start_time_unix_nano::text AS start, end_time_unix_nano::text AS end, duration_ns::text AS duration
         FROM "${schema}".spans WHERE trace_id = ANY($1)`,
      [spans.map((span) => span.spanContext().traceId)],
    );
    const byName = new Map(rows.map((row) => [row.name, row]));
    expect(byName.get('far future')).toMatchObject({ start: '4611686018427387903', end: '4611686018427387903', duration: '0' });
    expect(byName.get('far past')).toMatchObject({ start: '-4611686018427387904', end: '-4611686018427387904', duration: '0' });
    expect(byName.get('since 1716')).toMatchObject({ start: '-4611686018427387904' });
    expect(BigInt(byName.get('since 1716')!.duration)).toBeGreaterThan(4611686018427387904n);
    expect(byName.has('ordinary')).toBe(true);
    expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters WHERE trace_id = ANY($1)`, [spans.map((span) => span.spanContext().traceId)])).toBe(0);
  });

  it('stores a span whose end is before its start (a hand-built span) as the SDK ends one: at its start, duration 0', async () => {
    const [span] = await recordSpans((tracer) => tracer.startSpan('backwards').end());
    const start = span!.startTime;
    const backwards = withAttributes(span!, {}, { endTime: [start[0] - 5, start[1]], duration: [-5, 0] });
    expect(await exportSpans(exporter, [backwards])).toEqual({ code: ExportResultCode.SUCCESS });
    const [row] = await db.query<{ start: string; end: string; duration: string; trace_end: string }>(
      `SELECT s.start_time_unix_nano::text AS start, s.end_time_unix_nano::text AS end, s.duration_ns::text AS duration,
              t.end_time_unix_nano::text AS trace_end
         FROM "${schema}".spans s JOIN "${schema}".traces t USING (trace_id) WHERE s.span_id = $1`,
      [span!.spanContext().spanId],
    );
    expect(row).toEqual({ start: row!.start, end: row!.start, duration: '0', trace_end: row!.start });
  });
});
