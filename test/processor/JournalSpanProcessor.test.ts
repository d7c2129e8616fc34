import { DiagLogLevel, ROOT_CONTEXT, diag, trace } from '@opentelemetry/api';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, test } from 'vitest';
import { EXPORTER_GRACE_MILLIS, JournalSpanProcessor } from '../../src/processor/JournalSpanProcessor.js';
import { PROCESSOR_DEFAULTS } from '../../src/options/defaults.js';
import { MAX_MILLIS } from '../../src/options/validate.js';
import type { DurabilityLevel } from '../../src/processor/processorOptions.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import type { SpanEndRecord } from '../../src/journal/recordTypes.js';
import { ATTR_DROPPED_SPANS, OVERFLOW_SPAN_NAME } from '../../src/spanMarkers.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';
import { segmentNames } from '../helpers/journalFiles.js';

const tempDir = useTempDirs();
const providers: BasicTracerProvider[] = [];
afterEach(async () => {
  for (const provider of providers.splice(0)) await provider.shutdown();
});

function setup(options: { durability?: DurabilityLevel; journalDir?: string; maxJournalBytes?: number; maxQueueSize?: number; maxExportBatchSize?: number } = {}) {
  const exporter = new CollectingExporter();
  const journalDir = options.journalDir ?? join(tempDir(), 'journal');
  const processor = new JournalSpanProcessor({ exporter, journalDir, scheduledDelayMillis: 50, ...options });
  const provider = providerWith(processor);
  providers.push(provider);
  return { exporter, processor, provider, journalDir, tracer: provider.getTracer('processor-test', '1.2.3') };
}

describe.each<DurabilityLevel>(['process', 'host', 'none'])('JournalSpanProcessor with durability %s', (durability) => {
  test('forceFlush resolves once every span ended before it is exported, whole', async () => {
    const { exporter, processor, tracer } = setup({ durability });
    const ids: string[] = [];
    for (let i = 0; i < 1500; i++) {
      const parent = tracer.startSpan(`parent-${i}`, { attributes: { i } });
      const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, parent));
      child.addEvent('work', { step: i });
      child.setStatus({ code: 2, message: 'failed on purpose' });
      child.end();
      parent.end();
      ids.push(parent.spanContext().spanId, child.spanContext().spanId);
      if (durability === 'none' && i % 500 === 499) await processor.forceFlush();
    }
    await processor.forceFlush();
    expect(exporter.spanIds().sort()).toEqual(ids.sort());
    const child = exporter.spans.find((span) => span.name === 'child')!;
    const parent = exporter.spans.find((span) => span.spanContext().spanId === child.parentSpanContext?.spanId);
    expect(parent?.name).toMatch(/^parent-/);
    expect(child.spanContext().traceId).toBe(parent?.spanContext().traceId);
    expect(child.events[0]).toMatchObject({ name: 'work', attributes: { step: expect.any(Number) } });
    expect(child.status).toEqual({ code: 2, message: 'failed on purpose' });
    expect(child.instrumentationScope).toMatchObject({ name: 'processor-test', version: '1.2.3' });
    expect(child.resource.attributes['service.name']).toBe('test-service');
  });
});

describe.each(JOURNAL_IO_PATHS)('JournalSpanProcessor writing with %s', (io) => {
  useJournalIo(io);

  test('stats() says which write path is in use, and diag.info says it once at start', async () => {
    const infos: string[] = [];
    const log = (message: string) => void infos.push(message);
    diag.setLogger({ info: log, error: () => {}, warn: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.INFO);
    try {
      const { exporter, processor, tracer } = setup();
      expect(processor.stats().journalWritePath).toBe(expectedJournalIo(io));
      for (let i = 0; i < 50; i++) tracer.startSpan(`span-${i}`).end();
      await processor.forceFlush();
      expect(exporter.spans).toHaveLength(50);
      const said = infos.filter((message) => /memory-mapped segments|with write\(2\)/.test(message));
      expect(said).toEqual([expect.stringMatching(expectedJournalIo(io) === 'mmap' ? /memory-mapped/ : /write\(2\)/)]);
      // Shut down, nothing is journaled any more (before: 'write' and healthy, of a closed journal).
      await processor.shutdown();
      expect(processor.stats()).toMatchObject({ journalWritePath: 'none', journalHealthy: false });
    } finally {
      diag.disable();
    }
  });
});

describe('JournalSpanProcessor', () => {
  test('an exporter that fails for a while loses nothing: the backlog waits on disk and drains', async () => {
    const { exporter, processor, tracer } = setup({ maxExportBatchSize: 100 });
    exporter.failing = true;
    const ids = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const span = tracer.startSpan(`op-${i}`);
      span.end();
      ids.add(span.spanContext().spanId);
    }
    await expect.poll(() => exporter.calls).toBeGreaterThan(2);
    // Every one of them, those in batches being retried too (before: only those not yet
    // read, and the batches in flight went unseen).
    expect(processor.stats().journalBacklog).toBe(3000);
    expect(processor.stats().memoryQueueLength).toBe(0);
    exporter.failing = false;
    await processor.forceFlush();
    expect(processor.stats().journalBacklog).toBe(0);
    expect(new Set(exporter.spanIds())).toEqual(ids);
    expect(exporter.spans).toHaveLength(3000);
    expect(processor.stats().spansDropped).toBe(0);
  });

  test('an unusable journal directory keeps the application running, exports from memory, and heals', async () => {
    const base = tempDir();
    const blocker = join(base, 'not-a-directory');
    writeFileSync(blocker, 'a file where the journal directory should be');
    const journalDir = join(blocker, 'journal');
    const { exporter, processor, tracer } = setup({ journalDir });
    expect(() => tracer.startSpan('before').end()).not.toThrow();
    await processor.forceFlush();
    expect(exporter.spans.map((span) => span.name)).toEqual(['before']);
    expect(processor.stats().journalHealthy).toBe(false);

    rmSync(blocker);
    mkdirSync(blocker);
    await expect.poll(() => processor.stats().journalHealthy, { timeout: 5000 }).toBe(true);
    tracer.startSpan('after').end();
    expect(readdirSync(journalDir)).toHaveLength(1);
    await processor.forceFlush();
    expect(exporter.spans.map((span) => span.name)).toEqual(['before', 'after']);
  });

  // Spans started while no journal could be opened were tracked nowhere: still open at a
  // clean shutdown, they reached no row, no crash record and no count; and once the
  // directory came back, a kill left no crash record of them either (a review).
  test('spans started while the journal directory is unusable, still open at shutdown, are counted as dropped in the overflow marker', async () => {
    const blocker = join(tempDir(), 'not-a-directory');
    writeFileSync(blocker, 'a file where the journal directory should be');
    const { exporter, processor, tracer } = setup({ journalDir: join(blocker, 'journal') });
    const open = [tracer.startSpan('open 1'), tracer.startSpan('open 2')];
    tracer.startSpan('ended').end();
    await processor.shutdown();
    expect(exporter.spans.filter((span) => span.name !== OVERFLOW_SPAN_NAME).map((span) => span.name)).toEqual(['ended']);
    const marker = exporter.spans.find((span) => span.name === OVERFLOW_SPAN_NAME);
    expect(marker?.attributes[ATTR_DROPPED_SPANS]).toBe(2);
    expect(processor.stats().spansDropped).toBe(2);
    // Ending later, they are not counted again: the marker stands for them.
    for (const span of open) span.end();
    expect(processor.stats().spansDropped).toBe(2);
  });

  test('spans started while the journal directory is unusable have their STARTs journaled once it can be used: still open at shutdown, they get crash records', async () => {
    const blocker = join(tempDir(), 'not-a-directory');
    writeFileSync(blocker, 'a file where the journal directory should be');
    const { exporter, processor, tracer } = setup({ journalDir: join(blocker, 'journal') });
    const open = [tracer.startSpan('open 1'), tracer.startSpan('open 2')];
    const ended = tracer.startSpan('ends before the journal opens');
    ended.end();
    rmSync(blocker);
    mkdirSync(blocker);
    await expect.poll(() => processor.stats().journalHealthy, { timeout: 5000 }).toBe(true);
    await processor.shutdown();
    expect(exporter.spans.map((span) => `${span.name}: ${span.attributes['otel_blackbox.state'] ?? 'ended'}`).sort()).toEqual([
      'ends before the journal opens: ended',
      'open 1: crashed',
      'open 2: crashed',
    ]);
    expect(processor.stats()).toMatchObject({ crashRecordsWritten: 2, spansDropped: 0 });
    for (const span of open) span.end();
  });

  test('a journal directory recovery cannot list is said once, not at every scan with its stack', async () => {
    // Another user's 0700 directory: "journal recovery failed" and a stack once a minute (a review).
    const lines: string[] = [];
    const note = (message: string, ...rest: unknown[]) => lines.push([message, ...rest.map(String)].join(' '));
    diag.setLogger({ error: note, warn: note, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    try {
      const blocker = join(tempDir(), 'not-a-directory');
      writeFileSync(blocker, 'a file where the journal directory should be');
      const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(blocker, 'journal') });
      const scan = () => (processor as unknown as { recoverDeadJournals(): void }).recoverDeadJournals();
      const scanned = () => (processor as unknown as { recovery: Promise<void> | undefined }).recovery === undefined;
      await expect.poll(() => lines.some((line) => line.includes('journal recovery failed'))).toBe(true);
      await expect.poll(scanned).toBe(true);
      for (let again = 0; again < 3; again++) {
        scan();
        await expect.poll(scanned).toBe(true);
      }
      expect(lines.filter((line) => line.includes('journal recovery failed'))).toEqual([
        expect.stringMatching(/^otel-blackbox: journal recovery failed: ENOTDIR.*; said again only if the cause changes$/),
      ]);
      await processor.shutdown();
    } finally {
      diag.disable();
    }
  });

  test('onStart and onEnd never throw into the application, whatever the span holds', async () => {
    const { exporter, processor, tracer, journalDir } = setup();
    const span = tracer.startSpan('odd values', { attributes: { nan: Number.NaN, inf: Number.POSITIVE_INFINITY, list: [1, null, 3] } });
    expect(() => span.end()).not.toThrow();
    // Values the SDK itself would refuse, handed straight to onEnd as another SDK might.
    const template = exporter.spans[0] ?? (await processor.forceFlush(), exporter.spans[0]);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const odd = { ...template, spanContext: () => ({ ...template.spanContext(), spanId: '00000000000000aa' }), attributes: { big: 10n, circular } };
    expect(() => processor.onEnd(odd as never)).not.toThrow();
    const broken = { ...template, spanContext: () => { throw new Error('a span from a broken SDK'); } };
    expect(() => processor.onStart(broken as never, ROOT_CONTEXT)).not.toThrow();
    expect(() => processor.onEnd(broken as never)).not.toThrow();
    await processor.forceFlush();
    // The exporter gets the spans as they were; the journal holds what JSON can say of them.
    expect(exporter.spans[0].attributes).toEqual({ nan: Number.NaN, inf: Number.POSITIVE_INFINITY, list: [1, null, 3] });
    expect(exporter.spans[1].attributes.big).toBe(10n);
    const ends = readdirSync(journalDir).flatMap((writer) =>
      segmentNames(join(journalDir, writer)).flatMap((file) => readSegment(readFileSync(join(journalDir, writer, file))).records),
    ).filter((record) => record.type === RecordType.SpanEnd).map((record) => (record.payload as SpanEndRecord).a);
    expect(ends).toEqual([{ nan: 'NaN', inf: 'Infinity', list: [1, null, 3] }, { big: '10', circular: { self: '[Circular]' } }]);
    expect(processor.stats().hotPathErrors).toBe(2);
  });

  test('spans that are recorded but not sampled are not journaled', async () => {
    const exporter = new CollectingExporter();
    const journalDir = join(tempDir(), 'journal');
    const processor = new JournalSpanProcessor({ exporter, journalDir });
    const provider = new BasicTracerProvider({
      sampler: { shouldSample: () => ({ decision: SamplingDecision.RECORD }), toString: () => 'record-only' },
      spanProcessors: [processor],
    });
    providers.push(provider);
    const headBytes = processor.stats().journalBytesWritten;
    provider.getTracer('t').startSpan('recorded, not sampled');
    expect(processor.stats().journalBytesWritten).toBe(headBytes);
    await processor.forceFlush();
    expect(exporter.spans).toEqual([]);
  });

  test('when the journal is full and the queue too, the loss is counted and exported as a marker span', async () => {
    const { exporter, processor, tracer } = setup({ maxJournalBytes: 8 * 1024, maxQueueSize: 10, maxExportBatchSize: 10 });
    exporter.failing = true;
    for (let i = 0; i < 200; i++) tracer.startSpan(`op-${i}`, { attributes: { pad: 'x'.repeat(100) } }).end();
    await new Promise((resolve) => setImmediate(resolve)); // the ENDs of this turn are written now
    const dropped = processor.stats().spansDropped;
    expect(dropped).toBeGreaterThan(0);
    exporter.failing = false;
    await processor.forceFlush();
    await expect.poll(() => exporter.spans.filter((span) => span.name === OVERFLOW_SPAN_NAME).length).toBe(1);
    const marker = exporter.spans.find((span) => span.name === OVERFLOW_SPAN_NAME)!;
    expect(marker.attributes[ATTR_DROPPED_SPANS]).toBe(dropped);
    expect(exporter.spans.filter((span) => span.name !== OVERFLOW_SPAN_NAME)).toHaveLength(200 - dropped);
  });

  test('shutdown flushes, shuts the exporter down once, removes a drained journal, and is safe twice', async () => {
    const { exporter, processor, tracer, journalDir } = setup();
    tracer.startSpan('last words').end();
    await processor.shutdown();
    await processor.shutdown();
    expect(exporter.spans.map((span) => span.name)).toEqual(['last words']);
    expect(exporter.shutdownCalls).toBe(1);
    expect(existsSync(journalDir) ? readdirSync(journalDir) : []).toEqual([]);
    expect(() => tracer.startSpan('after shutdown').end()).not.toThrow();
  });

  test('an exporter with export() only (all the options ask for) is exported to and shut down without an error', async () => {
    const errors: string[] = [];
    diag.setLogger({ error: (m: string, ...a: unknown[]) => errors.push([m, ...a].join(' ')), warn: () => {}, info: () => {}, debug: () => {}, verbose: () => {} }, DiagLogLevel.WARN);
    try {
      const exported: string[] = [];
      const exporter = { export: (spans: { name: string }[], done: (result: { code: number }) => void) => (exported.push(...spans.map((span) => span.name)), done({ code: 0 })) };
      const processor = new JournalSpanProcessor({ exporter: exporter as never, journalDir: join(tempDir(), 'journal'), recover: false });
      const provider = providerWith(processor);
      provider.getTracer('t').startSpan('only export').end();
      await provider.shutdown();
      expect(exported).toEqual(['only export']);
      // It said "exporter shutdown failed: TypeError: this.options.exporter.shutdown is not a function".
      expect(errors).toEqual([]);
    } finally {
      diag.disable();
    }
  });

  test('the longest flushTimeoutMillis allowed still waits for the exporter (no timer overflow)', async () => {
    let flushed = false;
    const slow = { export: (_spans: unknown, done: (result: { code: number }) => void) => done({ code: 0 }), forceFlush: () => new Promise<void>((resolve) => setTimeout(() => resolve(void (flushed = true)), 300)), shutdown: async () => {} };
    const processor = new JournalSpanProcessor({ exporter: slow as never, journalDir: join(tempDir(), 'journal'), flushTimeoutMillis: MAX_MILLIS, recover: false });
    await processor.forceFlush();
    expect(flushed).toBe(true);
    await processor.shutdown();
  });

  test('invalid options throw a sentence naming the option', () => {
    const exporter = new CollectingExporter();
    expect(() => new JournalSpanProcessor({ exporter, durability: 'disk' as DurabilityLevel })).toThrow(/Invalid option durability: expected one of 'process', 'host', 'none', got "disk"/);
    expect(() => new JournalSpanProcessor({ exporter, maxExportBatchSize: -1 })).toThrow(/maxExportBatchSize/);
    expect(() => new JournalSpanProcessor({ exporter: undefined as never })).toThrow(/Invalid option exporter/);
    // Node's timers cannot wait past 2^31 - 1 ms: above it they fire at once, and every batch would time out.
    expect(() => new JournalSpanProcessor({ exporter, exportTimeoutMillis: 2 ** 31 })).toThrow(
      /^Invalid option exportTimeoutMillis: expected a positive integer of milliseconds, at most 2147000000 \(about 24 days\), got 2147483648\.$/,
    );
    expect(() => new JournalSpanProcessor({ exporter, scheduledDelayMillis: 1e12 })).toThrow(/Invalid option scheduledDelayMillis/);
    expect(() => new JournalSpanProcessor({ exporter, heartbeatIntervalMillis: 2 ** 40 })).toThrow(/Invalid option heartbeatIntervalMillis/);
    // No path holds a NUL: taken, the processor ran on the memory path for good, without crash protection.
    expect(() => new JournalSpanProcessor({ exporter, journalDir: 'journal\0dir' })).toThrow(/^Invalid option journalDir: expected a string without NUL characters, got "journal\\u0000dir"\.$/);
    // Spaces alone in OTEL_BLACKBOX_JOURNAL_DIR count as unset; in code they made a directory named '   ' beside the app.
    expect(() => new JournalSpanProcessor({ exporter, journalDir: '   ' })).toThrow(/^Invalid option journalDir: expected a directory path, not only white space, got "   "\.$/);
  });
});

describe('spans kept in memory', () => {
  test('are exported once the queue is half full, whatever the batch size: bursts of less than half the queue between turns lose none', async () => {
    // Before: the export loop was woken only at a full batch; with batches near the queue
    // size (2,000 of 2,048) a burst that crossed the queue's end was dropped in part.
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, durability: 'none', maxExportBatchSize: 2000, scheduledDelayMillis: 60_000 });
    const tracer = providerWith(processor, 'memory-bursts').getTracer('t');
    for (let burst = 0; burst < 6; burst++) {
      for (let i = 0; i < 700; i++) tracer.startSpan(`s${burst}-${i}`).end();
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await processor.shutdown();
    expect(processor.stats().spansDropped).toBe(0);
    expect(exporter.spans).toHaveLength(4200);
  });
});

describe('defaults', () => {
  test("forceFlush() and shutdown() settle, by default, before the SDK's own 30 s forceFlush timeout", () => {
    // TracerProvider and LoggerProvider (2.x and 3.x) reject forceFlush() after 30 s
    // (forceFlushTimeoutMillis): with 30 s of flush and 1 s of margin, a flush during a
    // database outage made the provider's forceFlush() reject.
    const SDK_FORCE_FLUSH_TIMEOUT_MILLIS = 30_000;
    expect(PROCESSOR_DEFAULTS.flushTimeoutMillis + EXPORTER_GRACE_MILLIS).toBeLessThan(SDK_FORCE_FLUSH_TIMEOUT_MILLIS);
  });
});
