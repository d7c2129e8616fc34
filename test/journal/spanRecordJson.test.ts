// The text path (spanRecordJson.ts) must write what the object path (spanRecords.ts) writes:
// same keys, same values, once parsed. Spans come from a real tracer, with every shape a
// record can take, and some the text path must hand to the object path.
import { SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType, type SpanEndRecord } from '../../src/journal/recordTypes.js';
import { readableSpanFromRecord } from '../../src/journal/readableSpanFromRecord.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { spanKey, spanKeyOfRecord, endRecord, recordJson, startRecord } from '../../src/journal/spanRecords.js';
import { cappedRecordCount } from '../../src/journal/recordCap.js';
import { endRecordJson, startRecordJson } from '../../src/journal/spanRecordJson.js';
import { segmentNames } from '../helpers/journalFiles.js';

const tempDir = useTempDirs();

function finishedSpans(make: (tracer: ReturnType<TracerProvider['getTracer']>) => void): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'json' }), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  make(provider.getTracer('record-json', '2.1.0'));
  make(provider.getTracer('record-json-no-version'));
  return exporter.getFinishedSpans();
}

const REMOTE_LINKED = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED };

const shapes = finishedSpans((tracer) => {
  tracer.startSpan('plain').end();
  const root = tracer.startSpan('root "quoted" \\ name \u2028 ünïcödé 😀', { kind: SpanKind.SERVER, attributes: { s: 'v', n: 1.5, b: true, list: ['a', 'b'], nums: [1, 2], empty: [], nil: null as never } });
  const child = tracer.startSpan('child', { attributes: { 'k\n"': 'line\nbreak "q"' } }, trace.setSpan(context.active(), root));
  child.addEvent('no attributes');
  child.addEvent('with attributes', { a: 1, 'b"': 'x' });
  child.addEvent('empty attributes', {});
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'it "broke"' });
  child.setAttribute('set.after.start', 42);
  child.updateName('renamed');
  child.end();
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  const remoteParent = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=a,other=b'),
  });
  tracer.startSpan('remote child', {}, remoteParent).end();
  tracer.startSpan('with link', { links: [{ context: { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }, attributes: { l: 1 } }] }).end();
  tracer.startSpan('with remote and local links', { links: [{ context: { ...REMOTE_LINKED, isRemote: true } }, { context: { ...REMOTE_LINKED, isRemote: false } }] }).end();
  tracer.startSpan('bytes', { attributes: { bytes: new Uint8Array([1, 2, 255]) as never } }).end();
  tracer.startSpan('map', { attributes: { map: { nested: ['x', 1] } as never } }).end();
  tracer.startSpan('not a number', { attributes: { nan: Number.NaN, inf: Number.POSITIVE_INFINITY } }).end();
  const limited = tracer.startSpan('dropped events');
  for (let i = 0; i < 200; i++) limited.addEvent(`event ${i}`);
  limited.end();
});

/** Spans the limits cut at their start: a START carries the dropped counts (a crash record has nothing else). */
const limitedShapes = (() => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanLimits: { attributeCountLimit: 2, linkCountLimit: 0 }, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('record-json-limited');
  tracer.startSpan('attributes past the limit', { attributes: { a: 1, b: 2, c: 3, d: 4 } }).end();
  tracer.startSpan('links past the limit', { links: [{ context: REMOTE_LINKED }] }).end();
  return exporter.getFinishedSpans();
})();

describe('span record JSON by text', () => {
  test('a START carries the counts the limits dropped at the start', () => {
    expect(limitedShapes.map((span) => JSON.parse(startRecordJson(span, 1)) as { da?: number; dl?: number }).map(({ da, dl }) => [da, dl])).toEqual([
      [2, undefined],
      [undefined, 1],
    ]);
  });

  test.each([...shapes, ...limitedShapes].map((span) => [span.name, span] as const))('%s: START and END parse to what the object path writes', (_name, span) => {
    const start = startRecordJson(span, 3);
    const end = endRecordJson(span, 3);
    expect(JSON.parse(start)).toEqual(JSON.parse(recordJson(startRecord(span, 3))));
    expect(JSON.parse(end)).toEqual(JSON.parse(recordJson(endRecord(span, 3))));
    // Readers locate the trace id and span id without parsing: t and s lead every span record.
    const { traceId, spanId } = span.spanContext();
    expect(spanKeyOfRecord(Buffer.from(start))).toBe(spanKey(traceId, spanId));
    expect(spanKeyOfRecord(Buffer.from(end))).toBe(spanKey(traceId, spanId));
  });

  test('ids that are not hex are escaped as the object path escapes them', () => {
    const [span] = finishedSpans((tracer) => tracer.startSpan('odd ids', { attributes: { a: 1 } }).end());
    const ids = { traceId: 'TRACE\\"\n\u2028id', spanId: 'b7ad"b7169203331' };
    const odd = { ...span, parentSpanContext: { ...span.spanContext(), spanId: 'p"\\' }, spanContext: () => ({ ...span.spanContext(), ...ids }) } as ReadableSpan;
    const start = JSON.parse(startRecordJson(odd, 1)) as { t: string; s: string; p: string };
    expect(start).toMatchObject({ t: ids.traceId, s: ids.spanId, p: 'p"\\' });
    expect(start).toEqual(JSON.parse(recordJson(startRecord(odd, 1))));
    expect(JSON.parse(endRecordJson(odd, 1))).toEqual(JSON.parse(recordJson(endRecord(odd, 1))));
    // Parsed the slow way, the key is the same pair of ids.
    expect(spanKeyOfRecord(Buffer.from(startRecordJson(odd, 1)))).toBe(spanKey(ids.traceId, ids.spanId));
  });

  test.each([
    ['an escaped quote', 'T"' + '0'.repeat(29), 'b7ad6b7169203331'],
    ['32 UTF-8 bytes of 16 characters', 'é'.repeat(16), 'b7ad6b7169203331'],
    ['a multi-byte span id', '0af7651916cd43dd8448eb211c80319c', 'ü'.repeat(8)],
  ])('ids that fit the layout of hex ids but are not (%s) get the key of their own strings', (_label, traceId, spanId) => {
    // Before: the key was the record's JSON text (escaped, or UTF-8 read as Latin-1), which
    // no key made from the ids matched: a SETTLED record of such a span removed nothing.
    const [span] = finishedSpans((tracer) => tracer.startSpan('odd ids').end());
    const odd = { ...span, spanContext: () => ({ ...span.spanContext(), traceId, spanId }) } as ReadableSpan;
    expect(spanKeyOfRecord(Buffer.from(startRecordJson(odd, 1)))).toBe(spanKey(traceId, spanId));
    expect(spanKeyOfRecord(Buffer.from(endRecordJson(odd, 1)))).toBe(spanKey(traceId, spanId));
  });

  test('what the text path cannot vouch for goes to the object path: an id that is not a string, a name that is not a string', () => {
    const [span] = finishedSpans((tracer) => tracer.startSpan('odd').end());
    const odd = { ...span, name: 7 as never, spanContext: () => ({ ...span.spanContext(), spanId: 'b7ad"b7169203331' }) } as ReadableSpan;
    const start = JSON.parse(startRecordJson(odd, 1)) as { s: string; n: unknown };
    expect(start.s).toBe('b7ad"b7169203331');
    // As text, as the exporter stores the live span's name.
    expect(start.n).toBe('7');
    expect(JSON.parse(endRecordJson(odd, 1))).toEqual(JSON.parse(recordJson(endRecord(odd, 1))));
    const numbered = { ...span, spanContext: () => ({ ...span.spanContext(), traceId: 12 as never }) } as ReadableSpan;
    expect(JSON.parse(startRecordJson(numbered, 1))).toEqual(JSON.parse(recordJson(startRecord(numbered, 1))));
    expect(JSON.parse(endRecordJson(numbered, 1))).toEqual(JSON.parse(recordJson(endRecord(numbered, 1))));
  });

  test('through the writer, spans from an id generator that is not lowercase hex: START and END read back with their ids', () => {
    let next = 0;
    const odd = { generateTraceId: () => `TRACE"${String(next++).padStart(26, '0')}`, generateSpanId: () => `S\\${String(next++).padStart(14, '0')}` };
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ idGenerator: odd, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('odd-ids');
    const parent = tracer.startSpan('parent');
    const child = tracer.startSpan('child', {}, trace.setSpan(context.active(), parent));
    child.end();
    parent.end();
    const writer = new JournalWriter({
      journalDir: join(tempDir(), 'journal'),
      identity: currentWriterIdentity(),
      durability: 'process',
      maxSegmentBytes: 1 << 20,
      maxJournalBytes: 1 << 30,
      groupCommitMillis: 5,
      heartbeatIntervalMs: 1000,
    });
    const [childSpan, parentSpan] = exporter.getFinishedSpans();
    for (const span of [parentSpan, childSpan]) writer.appendStart(span);
    for (const span of [childSpan, parentSpan]) writer.appendEnd(span);
    writer.close({ removeIfDone: false });
    const records = segmentNames(writer.writerDir).flatMap((name) => readSegment(readFileSync(join(writer.writerDir, name))).records);
    const spanRecords = records.filter((record) => record.type === RecordType.SpanStart || record.type === RecordType.SpanEnd);
    expect(spanRecords.map((record) => (record.payload as { s: string }).s)).toEqual([parentSpan, childSpan, childSpan, parentSpan].map((span) => span.spanContext().spanId));
    expect(records.every((record) => record.payload !== undefined)).toBe(true);
  });

  test('cappedRecordCount moves exactly when a record is cut down, however small the result', () => {
    const [span] = finishedSpans((tracer) => tracer.startSpan('huge', { attributes: { big: 'é'.repeat(34 * 1024 * 1024) } }).end());
    const before = cappedRecordCount();
    startRecordJson(finishedSpans((tracer) => tracer.startSpan('small').end())[0], 1);
    expect(cappedRecordCount()).toBe(before);
    const capped = endRecordJson(span, 1);
    expect(cappedRecordCount()).toBe(before + 1);
    expect(Buffer.byteLength(capped)).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  test('a record too large for one frame is capped as by the object path', () => {
    const [span] = finishedSpans((tracer) => tracer.startSpan('huge', { attributes: { big: 'x'.repeat(23 * 1024 * 1024) } }).end());
    const start = startRecordJson(span, 1);
    expect(start).toBe(recordJson(startRecord(span, 1)));
    expect(Buffer.byteLength(start)).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('links read back from the journal', () => {
  const resource = resourceFromAttributes({ 'service.name': 'json' });
  const readBack = (span: ReadableSpan) => readableSpanFromRecord(JSON.parse(endRecordJson(span, 1)) as SpanEndRecord, resource);
  /** The OTLP/JSON `flags` of each link, as an OTLP exporter would send them. */
  const otlpLinkFlags = (span: ReadableSpan): number[] => {
    const request = JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest([span])!));
    return request.resourceSpans[0].scopeSpans[0].spans[0].links.map((link: { flags: number }) => link.flags);
  };

  test('keep whether they are remote, so OTLP flags them as the live span did (257 local, 769 remote)', () => {
    const [span] = finishedSpans((tracer) =>
      tracer
        .startSpan('linked', {
          links: [{ context: { ...REMOTE_LINKED, isRemote: true } }, { context: { ...REMOTE_LINKED, isRemote: false } }, { context: REMOTE_LINKED }],
        })
        .end(),
    );
    const recovered = readBack(span!);
    expect(recovered.links.map((link) => link.context.isRemote)).toEqual([true, false, false]);
    expect(otlpLinkFlags(span!)).toEqual([769, 257, 257]);
    expect(otlpLinkFlags(recovered)).toEqual(otlpLinkFlags(span!));
  });

  test('written before the flag was, read as remote, as they always were', () => {
    const [span] = finishedSpans((tracer) => tracer.startSpan('old link', { links: [{ context: REMOTE_LINKED, attributes: { l: 1 } }] }).end());
    const record = JSON.parse(endRecordJson(span!, 1)) as SpanEndRecord;
    for (const link of record.l) delete (link as { rm?: number }).rm;
    const [link] = readableSpanFromRecord(record, resource).links;
    expect(link!.context).toMatchObject({ ...REMOTE_LINKED, isRemote: true });
    expect(link!.attributes).toEqual({ l: 1 });
  });
});


describe('scopes read back from the journal', () => {
  const resource = resourceFromAttributes({ 'service.name': 'json' });
  const scopeAfterRecovery = (name: string, version?: string) => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    provider.getTracer(name, version).startSpan('scoped').end();
    const [span] = exporter.getFinishedSpans();
    return readableSpanFromRecord(JSON.parse(endRecordJson(span!, 1)) as SpanEndRecord, resource).instrumentationScope;
  };

  test("are each tracer's own, whatever characters their names and versions hold", () => {
    // Joined with U+0000 between parts (U+0001 for none), the first named the second's
    // scope, and 'other' without a version took the version '\u0001' (a review).
    const pairs: [string, string | undefined][] = [['lib\u0000x', '1.0'], ['lib', 'x\u00001.0'], ['other', '\u0001'], ['other', undefined], ['-', undefined], ['', '-']];
    for (const [name, version] of pairs) {
      expect(scopeAfterRecovery(name, version)).toMatchObject({ name, version });
    }
    // The same scope object for every span of one tracer, as the SDK gives them.
    expect(scopeAfterRecovery('lib', '2.0')).toBe(scopeAfterRecovery('lib', '2.0'));
  });
});

describe('names that are not strings (plain JavaScript)', () => {
  const resource = resourceFromAttributes({ 'service.name': 'json' });
  const named = { toString: () => 'custom-name' };

  test('read back from the journal as the text the exporter stores live', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('names');
    const span = tracer.startSpan('placeholder');
    span.updateName(named as never);
    span.addEvent({ toString: () => 'custom-event' } as never);
    span.end();
    tracer.startSpan(Symbol('sym-name') as never).end();
    const [objectNamed, symbolNamed] = exporter.getFinishedSpans();
    for (const [span, name] of [[objectNamed!, 'custom-name'], [symbolNamed!, 'Symbol(sym-name)']] as const) {
      // The object path (startRecord/endRecord), which the fast path hands such a span to.
      const fromEnd = readableSpanFromRecord(JSON.parse(endRecordJson(span, 1)) as SpanEndRecord, resource);
      const fromStart = readableSpanFromRecord(JSON.parse(recordJson(startRecord(span, 1))) as SpanEndRecord, resource);
      expect([fromEnd.name, fromStart.name]).toEqual([name, name]);
    }
    const recovered = readableSpanFromRecord(JSON.parse(endRecordJson(objectNamed!, 1)) as SpanEndRecord, resource);
    expect(recovered.events.map((event) => event.name)).toEqual(['custom-event']);
  });
});
