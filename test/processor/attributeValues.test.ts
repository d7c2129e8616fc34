// api 1.10 widened attribute values to AnyValue: bytes, maps, mixed arrays and null. They
// are stored faithfully (bytes as base64, as OTLP/JSON encodes them), survive the journal
// as what they were for any exporter, and keep being sanitised inside.
import { context, trace, type Attributes, type Span } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { runFixture } from '../helpers/childProcess.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { exportSpans } from '../postgres/spanFixtures.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'attribute_values', (name) => (schema = name));

/** Resources of the 2.x line keep any value; those of 3.x keep simple values only (OTEP 4485) and drop bytes. */
const RESOURCES_KEEP_BYTES = resourceFromAttributes({ k: new Uint8Array(1) } as unknown as Attributes).attributes.k !== undefined;

const BAD = 'x\u0000y\uD800';
const FIXED = 'x\uFFFDy\uFFFD';

/** What a value becomes in a jsonb column. */
const STORED = {
  bytes: 'AQL/',
  empty: '',
  map: { a: 1, nested: { s: 'x', b: 'AA==' } },
  mixed: [1, 'two', true, null, '/w=='],
  nothing: null,
  plain: 'ok',
};

function anyValues(): Attributes {
  return {
    bytes: new Uint8Array([1, 2, 255]),
    empty: new Uint8Array(0),
    map: { a: 1, nested: { s: 'x', b: new Uint8Array([0]) } },
    mixed: [1, 'two', true, null, new Uint8Array([255])],
    nothing: null,
    plain: 'ok',
  } as unknown as Attributes;
}

/** setAttribute where the SDK line takes AnyValue (3.x); put into span.attributes where it refuses it (2.x). */
function setAnyValue(span: Span, key: string, value: unknown): void {
  span.setAttribute(key, value as never);
  const attributes = (span as unknown as ReadableSpan).attributes as Record<string, unknown>;
  if (!(key in attributes)) attributes[key] = value;
}

async function rowOf(spanId: string): Promise<Record<string, any>> {
  const [row] = await db.query(`SELECT * FROM "${schema}".spans WHERE span_id = $1`, [spanId]);
  expect(row, `a row for span ${spanId}`).toBeDefined();
  return row!;
}

describe('AnyValue attributes through the processor into PostgreSQL', () => {
  test('bytes as base64, maps as objects, mixed arrays as arrays, null kept, on spans, events, links and resources', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal') });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'any-value-in-process', key: new Uint8Array([1, 2, 255]) } as unknown as Attributes),
      spanProcessors: [processor],
    });
    const tracer = provider.getTracer('any-value');
    const parent = tracer.startSpan('parent');
    const span = tracer.startSpan('child', { links: [{ context: parent.spanContext(), attributes: { l: 1 } }] }, trace.setSpan(context.active(), parent));
    for (const [key, value] of Object.entries(anyValues())) setAnyValue(span, key, value);
    setAnyValue(span, 'dirty', { [`k${BAD}`]: [BAD, new Uint8Array([1])] });
    ((span as unknown as ReadableSpan).links[0]!.attributes as Record<string, unknown>).linkBytes = new Uint8Array([4, 5]);
    span.addEvent('event', { n: 1 });
    ((span as unknown as ReadableSpan).events[0]!.attributes as Record<string, unknown>).payload = new Uint8Array([9, 8, 7]);
    span.end();
    parent.end();
    await provider.shutdown();

    const row = await rowOf(span.spanContext().spanId);
    expect(row.attributes).toEqual({ ...STORED, dirty: { [`k${FIXED}`]: [FIXED, 'AQ=='] } });
    expect(row.resource).toEqual({ 'service.name': 'any-value-in-process', ...(RESOURCES_KEEP_BYTES ? { key: 'AQL/' } : {}) });
    expect(row.links[0].attributes).toEqual({ l: 1, linkBytes: 'BAU=' });
    const [event] = await db.query(`SELECT attributes FROM "${schema}".logs WHERE span_id = $1`, [span.spanContext().spanId]);
    expect(event!.attributes).toEqual({ n: 1, payload: 'CQgH' });
  });

  test('read back from the journal of a killed process, bytes are bytes again for any exporter, and base64 in PostgreSQL', async () => {
    const journalDir = join(tempDir(), 'journal');
    const child = runFixture(join(import.meta.dirname, '../fixtures/anyValueService.mjs'), { JOURNAL_DIR: journalDir });
    const ids = await child.ready;
    child.child.kill('SIGKILL');
    await child.exited;

    const collecting = new CollectingExporter();
    const report = await recoverJournals({ journalDir, exporter: collecting });
    expect(report).toMatchObject({ journals: 1, spansEnded: 1, spansCrashed: 1, failures: [] });
    const ended = collecting.spans.find((s) => s.spanContext().spanId === ids.ended)!;
    const crashed = collecting.spans.find((s) => s.spanContext().spanId === ids.open)!;
    for (const span of [ended, crashed]) {
      expect(span.attributes.bytes).toBeInstanceOf(Uint8Array);
      expect([...(span.attributes.bytes as unknown as Uint8Array)]).toEqual([1, 2, 255]);
      expect(span.attributes.empty).toBeInstanceOf(Uint8Array);
      expect((span.attributes.map as any).nested.b).toBeInstanceOf(Uint8Array);
      expect((span.attributes.mixed as unknown[])[4]).toBeInstanceOf(Uint8Array);
      expect(span.attributes.nothing).toBeNull();
      if (RESOURCES_KEEP_BYTES) expect(span.resource.attributes['host.key']).toBeInstanceOf(Uint8Array);
    }
    expect(ended.attributes.unserializable).toBe('[Unserializable]');
    expect(bottomOf(ended.attributes.deep)).toEqual({ depth: 31, bottom: '[Too deep]' });
    expect([...(ended.events[0]!.attributes!.payload as unknown as Uint8Array)]).toEqual([9, 8, 7]);
    expect([...(ended.links[0]!.attributes!.linkBytes as unknown as Uint8Array)]).toEqual([4, 5]);

    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    expect(await exportSpans(exporter, collecting.spans)).toEqual({ code: 0 });
    await exporter.shutdown();
    for (const spanId of [ids.ended!, ids.open!]) {
      const row = await rowOf(spanId);
      expect(row.attributes).toMatchObject(STORED);
      expect(row.resource).toEqual({ 'service.name': 'any-value', ...(RESOURCES_KEEP_BYTES ? { 'host.key': 'AQL/' } : {}) });
    }
    expect((await rowOf(ids.open!)).state).toBe('crashed');
    expect((await rowOf(ids.ended!)).state).toBe('ended');
  });

  // The 3.x SDK copies a map attribute but keeps a Uint8Array by reference: an application
  // that filled its buffer again after end() had the new bytes exported live, and the bytes
  // of end() after a crash: two rows for one span (a differential review on the 3.x line).
  test('bytes the application fills again after end() are exported as they were at end(), live as after a crash', async () => {
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), recover: false });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    try {
      const buffer = new Uint8Array([1, 2, 3]);
      const eventBuffer = new Uint8Array([7, 7]);
      const span = provider.getTracer('reused-buffers').startSpan('reuses its buffers');
      setAnyValue(span, 'bytes', buffer);
      span.addEvent('chunk', { payload: eventBuffer } as unknown as Attributes);
      const event = (span as unknown as ReadableSpan).events[0]!;
      if (!('payload' in event.attributes!)) (event.attributes as Record<string, unknown>).payload = eventBuffer;
      span.end();
      buffer.fill(0x61);
      eventBuffer.fill(0);
      await processor.forceFlush();
      const [exported] = exporter.spans;
      expect([...(exported!.attributes.bytes as unknown as Uint8Array)]).toEqual([1, 2, 3]);
      expect([...(exported!.events[0]!.attributes!.payload as unknown as Uint8Array)]).toEqual([7, 7]);
    } finally {
      await provider.shutdown();
    }
  });
});

function deeplyNested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = { next: value };
  return value;
}

/** Depth of `{ next: { next: ... } }` down to a non-object, and what is found there. */
function bottomOf(value: unknown): { depth: number; bottom: unknown } {
  let depth = 0;
  while (value !== null && typeof value === 'object') {
    value = (value as { next: unknown }).next;
    depth += 1;
  }
  return { depth, bottom: value };
}

interface BadValue {
  label: string;
  put: (attributes: Record<string, unknown>) => void;
  check: (stored: unknown) => void;
}

const badValues: BadValue[] = [
  {
    label: 'a throwing toJSON',
    put: (a) => (a.bad = { toJSON: () => { throw new Error('toJSON refuses'); } }),
    check: (stored) => expect(stored).toBe('[Unserializable]'),
  },
  {
    label: 'a throwing getter inside a map',
    put: (a) => (a.bad = { fine: 1, get broken(): never { throw new Error('getter refuses'); } }),
    check: (stored) => expect(stored).toEqual({ fine: 1, broken: '[Unserializable]' }),
  },
  {
    label: 'a throwing getter on span.attributes itself',
    put: (a) => Object.defineProperty(a, 'bad', { enumerable: true, get: () => { throw new Error('getter refuses'); } }),
    check: (stored) => expect(stored).toBe('[Unserializable]'),
  },
  {
    label: '20,000-deep nesting',
    put: (a) => (a.bad = deeplyNested(20_000)),
    check: (stored) => expect(bottomOf(stored)).toEqual({ depth: 31, bottom: '[Too deep]' }),
  },
  {
    label: 'a bigint and a cycle',
    put: (a) => {
      const cycle: Record<string, unknown> = { n: 12345678901234567890n };
      cycle.self = cycle;
      a.bad = cycle;
    },
    check: (stored) => expect(stored).toEqual({ n: '12345678901234567890', self: '[Circular]' }),
  },
];

describe.each(badValues)('an attribute that cannot be serialised as it is: $label', ({ label, put, check }) => {
  test('is stored as a placeholder; the span is exported, never dropped, never a crash record', async () => {
    const journalDir = join(tempDir(), 'journal');
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir });
    const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bad-values' }), spanProcessors: [processor] });
    const tracer = provider.getTracer('bad-values');
    const span = tracer.startSpan(`bad: ${label}`, { attributes: { ok: 'fine' } });
    put((span as unknown as ReadableSpan).attributes as Record<string, unknown>);
    span.end();
    const after = tracer.startSpan('after the bad one');
    after.end();
    await provider.shutdown();

    const row = await rowOf(span.spanContext().spanId);
    expect(row.state).toBe('ended');
    expect(row.attributes.ok).toBe('fine');
    check(row.attributes.bad);
    expect((await rowOf(after.spanContext().spanId)).state).toBe('ended');
    expect(processor.stats()).toMatchObject({ hotPathErrors: 0, spansDropped: 0 });
    // Nothing left behind that a later recovery could turn into a crash record.
    expect(readdirSync(journalDir)).toEqual([]);
  });
});

describe('a span larger than one journal frame (64 MiB)', () => {
  test('is cut down to fit, marked, and exported; the spans after it flow as usual', async () => {
    const journalDir = join(tempDir(), 'journal');
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir, flushTimeoutMillis: 20_000 });
    const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'huge' }), spanProcessors: [processor] });
    const tracer = provider.getTracer('huge');
    const huge = tracer.startSpan('huge', { attributes: { ok: 'fine' } });
    huge.setAttribute('huge', 'x'.repeat(70 * 1024 * 1024));
    huge.end();
    const after = tracer.startSpan('after the huge one');
    after.end();
    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ spansExported: 2, spansDropped: 0, hotPathErrors: 0 });
    await provider.shutdown();

    const [row] = await db.query(
      `SELECT state, attributes->>'ok' AS ok, length(attributes->>'huge') AS huge_length, attributes->'otel_blackbox.truncated' AS truncated
         FROM "${schema}".spans WHERE span_id = $1`,
      [huge.spanContext().spanId],
    );
    // As much of it as one frame holds: a third of 64 MiB in characters (3 UTF-8 bytes each at most), less the rest of the record.
    expect(row).toMatchObject({ state: 'ended', ok: 'fine', truncated: 1 });
    expect(row!.huge_length).toBeGreaterThan(21 * 1024 * 1024);
    expect(row!.huge_length).toBeLessThan((64 * 1024 * 1024) / 3);
    expect((await rowOf(after.spanContext().spanId)).state).toBe('ended');
    expect(readdirSync(journalDir)).toEqual([]);
  });
});
