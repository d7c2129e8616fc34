// The processor's own metrics, read the way an application would: a real MeterProvider
// with an in-memory metric exporter, registered through the global metrics API.
import { context, diag, metrics, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { SELF_METRICS } from '../../src/processor/selfMetrics.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { CollectingLogExporter } from '../helpers/CollectingLogExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { collectDiag } from '../helpers/diagLines.js';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';
import { expectedJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  metrics.disable();
});

interface Point {
  value: number;
  attributes: Record<string, unknown>;
}

/** Registers a MeterProvider globally; `collect()` returns the points by metric name. */
function meterProvider() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Exports only when the test asks (forceFlush): an hour is "never" for a test.
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  cleanups.push(() => provider.shutdown());
  /** Each reported instrument's unit, by name, as of the last collect(). */
  const units = new Map<string, string>();
  return {
    provider,
    units,
    register: () => metrics.setGlobalMeterProvider(provider),
    async collect(): Promise<Map<string, Point[]>> {
      exporter.reset();
      await reader.forceFlush();
      const points = new Map<string, Point[]>();
      for (const resourceMetrics of exporter.getMetrics()) {
        for (const scope of resourceMetrics.scopeMetrics) {
          for (const metric of scope.metrics) {
            units.set(metric.descriptor.name, metric.descriptor.unit);
            points.set(
              metric.descriptor.name,
              metric.dataPoints.map((point) => ({ value: point.value as number, attributes: point.attributes })),
            );
          }
        }
      }
      return points;
    },
  };
}

function value(points: Map<string, Point[]>, name: string, attributes: Record<string, unknown> = {}): number | undefined {
  return points.get(name)?.find((point) => Object.entries(attributes).every(([key, wanted]) => point.attributes[key] === wanted))?.value;
}

function track(provider: BasicTracerProvider): BasicTracerProvider {
  cleanups.push(() => provider.shutdown());
  return provider;
}

describe('the processor reports its own metrics through a registered MeterProvider', () => {
  test("log records recovered from a dead process's journal", async () => {
    const meters = meterProvider();
    meters.register();
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 30, { openEvery: 10, logs: 12 });
    const logExporter = new CollectingLogExporter();
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter, journalDir, scheduledDelayMillis: 20 });
    track(providerWith(processor));
    await vi.waitFor(() => expect(processor.stats().recoveryRunning).toBe(false), { timeout: 30_000, interval: 50 });
    await vi.waitFor(() => expect(processor.stats().spansRecovered).toBe(dead.ended), { timeout: 30_000, interval: 50 });

    expect(processor.stats()).toMatchObject({ logRecordsRecovered: dead.logs, crashRecordsWritten: dead.open });
    expect(logExporter.records).toHaveLength(dead.logs);
    expect(value(await meters.collect(), SELF_METRICS.logRecordsRecovered.name)).toBe(dead.logs);
  });

  test('journal size, write path, backlog and exported spans', async () => {
    const meters = meterProvider();
    meters.register();
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
    const tracer = track(providerWith(processor)).getTracer('metrics-test');
    for (let i = 0; i < 25; i++) tracer.startSpan(`span-${i}`).end();
    const stillOpen = tracer.startSpan('still open');
    await processor.forceFlush();

    const points = await meters.collect();
    expect(value(points, SELF_METRICS.spansExported.name)).toBe(25);
    expect(value(points, SELF_METRICS.openSpans.name)).toBe(1);
    expect(value(points, SELF_METRICS.journalBytes.name)).toBe(processor.stats().journalBytes);
    expect(value(points, SELF_METRICS.journalBytes.name)).toBeGreaterThan(0);
    expect(value(points, SELF_METRICS.journalSegments.name)).toBe(1);
    // 25 STARTs and ENDs, and the segment's head: all of it still on disk (mapped, the
    // segment's preallocated room is on disk too).
    expect(value(points, SELF_METRICS.journalBytesWritten.name)).toBe(processor.stats().journalBytesWritten);
    expect(processor.stats().journalBytes).toBeGreaterThanOrEqual(processor.stats().journalBytesWritten);
    // mmap where the native addon loads, write(2) elsewhere: the metric names the path stats() names.
    expect(value(points, SELF_METRICS.journalWritePath.name, { path: expectedJournalIo('mmap') })).toBe(1);
    expect(value(points, SELF_METRICS.journalWritePath.name, { path: 'memory' })).toBe(0);
    expect(value(points, SELF_METRICS.backlog.name, { queue: 'journal' })).toBe(0);
    expect(value(points, SELF_METRICS.backlog.name, { queue: 'memory' })).toBe(0);
    // The backlog counts log records too: not in spans (an operator review).
    expect(meters.units.get(SELF_METRICS.backlog.name)).toBe('{record}');
    expect(meters.units.get(SELF_METRICS.recoveryRunning.name)).toBe('1');
    expect(value(points, SELF_METRICS.recoveryRunning.name)).toBe(0);
    expect(value(points, SELF_METRICS.exportFailures.name)).toBe(0);
    expect(value(points, SELF_METRICS.hotPathErrors.name)).toBe(0);
    // Every listed instrument is reported (dropped only once something was dropped).
    const reported = [...points.keys()].sort();
    const dropCounters: string[] = [SELF_METRICS.spansDropped.name, SELF_METRICS.logRecordsDropped.name];
    const listed = Object.values(SELF_METRICS).map((spec) => spec.name).filter((name) => !dropCounters.includes(name));
    expect(reported).toEqual(listed.sort());
    stillOpen.end();
  });

  test('a MeterProvider registered after the processor, as NodeSDK.start() does, still gets the metrics', async () => {
    const meters = meterProvider();
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
    meters.register();
    const tracer = track(providerWith(processor)).getTracer('metrics-test');
    for (let i = 0; i < 3; i++) tracer.startSpan(`span-${i}`).end();
    await processor.forceFlush();
    expect(value(await meters.collect(), SELF_METRICS.spansExported.name)).toBe(3);
  });

  test('a MeterProvider registered after an await (a tracing file that loads its secrets first) gets the metrics too', async () => {
    // Before: looked up at construction and once more after the synchronous start-up only.
    const meters = meterProvider();
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
    const tracer = track(providerWith(processor)).getTracer('metrics-test');
    await new Promise((resolve) => setTimeout(resolve, 50));
    meters.register();
    tracer.startSpan('after the await').end();
    await processor.forceFlush();
    await vi.waitFor(async () => expect(value(await meters.collect(), SELF_METRICS.spansExported.name)).toBe(1), { timeout: 10_000, interval: 100 });
  });

  test('shut down beside its MeterProvider (as NodeSDK does), it says nothing; spans dropped after shutdown still count', async () => {
    const lines = collectDiag();
    try {
      const meters = meterProvider();
      meters.register();
      const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
      const tracer = track(providerWith(processor)).getTracer('metrics-test');
      await processor.shutdown();
      // After shutdown: dropped, and counted where the metrics read.
      tracer.startSpan('after shutdown').end();
      expect(value(await meters.collect(), SELF_METRICS.spansDropped.name, { reason: 'span processor shut down' })).toBe(1);
      const other = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
      await Promise.all([meters.provider.shutdown(), other.shutdown()]);
      // The SDK's "A shutdown MeterProvider cannot provide a Meter", at every NodeSDK shutdown.
      expect(lines.filter((line) => /MeterProvider/.test(line))).toEqual([]);
    } finally {
      diag.disable();
    }
  });

  test('several processors each report their own series (before: the last one registered hid the others)', async () => {
    const meters = meterProvider();
    meters.register();
    const tracers = new Map<JournalSpanProcessor, ReturnType<BasicTracerProvider['getTracer']>>();
    const tracerOf = (processor: JournalSpanProcessor) => tracers.get(processor)!;
    const processors = [10, 3].map((spans) => {
      const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
      const tracer = track(providerWith(processor)).getTracer('metrics-test');
      tracers.set(processor, tracer);
      for (let i = 0; i < spans; i++) tracer.startSpan(`span-${i}`).end();
      return processor;
    });
    await Promise.all(processors.map((processor) => processor.forceFlush()));
    const exported = (await meters.collect()).get(SELF_METRICS.spansExported.name) ?? [];
    expect(exported.map((point) => point.value).sort((a, b) => a - b)).toEqual([3, 10]);
    const ids = exported.map((point) => point.attributes['otel_blackbox.processor']);
    expect(new Set(ids).size).toBe(2);
    // Shut down, a processor reports no more; what it counted stays as it was (cumulative:
    // no reset), beside the live one's.
    await processors[0]!.shutdown();
    tracerOf(processors[1]!).startSpan('one more').end();
    await processors[1]!.forceFlush();
    const after = (await meters.collect()).get(SELF_METRICS.spansExported.name) ?? [];
    expect(after.map((point) => point.value).sort((a, b) => a - b)).toEqual([4, 10]);
  });

  test('a processor shut down reports nothing held and what it counted; its number goes to the next processor made', async () => {
    // Before: numbers only grew, and the SDK kept each series' last value: the journal bytes
    // of processors long shut down were summed with the live one's, and a process that made
    // 2,000 processors filled the SDK's series limit (the live one's values overflowed).
    const meters = meterProvider();
    meters.register();
    const made = (spans: number) => {
      const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
      const tracer = track(providerWith(processor)).getTracer('metrics-test');
      for (let i = 0; i < spans; i++) tracer.startSpan(`span-${i}`).end();
      return processor;
    };
    const first = made(5);
    await first.forceFlush();
    const numberOf = async () => (await meters.collect()).get(SELF_METRICS.spansExported.name)!.map((point) => point.attributes['otel_blackbox.processor']);
    const [number] = await numberOf();
    await first.shutdown();
    const gone = await meters.collect();
    expect(value(gone, SELF_METRICS.journalBytes.name, { 'otel_blackbox.processor': number })).toBe(0);
    expect(value(gone, SELF_METRICS.journalWritePath.name, { 'otel_blackbox.processor': number, path: 'none' })).toBe(1);
    expect(value(gone, SELF_METRICS.journalWritePath.name, { 'otel_blackbox.processor': number, path: expectedJournalIo('mmap') })).toBe(0);
    expect(value(gone, SELF_METRICS.spansExported.name, { 'otel_blackbox.processor': number })).toBe(5);

    for (let round = 0; round < 20; round++) await made(0).shutdown();
    const next = made(2);
    await next.forceFlush();
    const points = await meters.collect();
    // One number in all: each processor made took the number the one before gave back.
    expect(await numberOf()).toEqual([number]);
    // Its counters start again (a counter's reset to a backend, as at a process restart).
    expect(value(points, SELF_METRICS.spansExported.name, { 'otel_blackbox.processor': number })).toBe(2);
    expect(value(points, SELF_METRICS.journalBytes.name, { 'otel_blackbox.processor': number })).toBe(next.stats().journalBytes);
    expect(value(points, SELF_METRICS.journalWritePath.name, { 'otel_blackbox.processor': number, path: expectedJournalIo('mmap') })).toBe(1);
  });

  test('dropped spans are counted by reason, and failed exports counted', async () => {
    const meters = meterProvider();
    meters.register();
    const exporter = new CollectingExporter();
    exporter.failing = true;
    const processor = new JournalSpanProcessor({ exporter, durability: 'none', maxQueueSize: 2, maxExportBatchSize: 2, scheduledDelayMillis: 20 });
    const tracer = track(providerWith(processor)).getTracer('metrics-test');
    for (let i = 0; i < 10; i++) tracer.startSpan(`span-${i}`).end();
    await vi.waitFor(() => expect(processor.stats().exportFailures).toBeGreaterThan(0), { timeout: 10_000 });

    const points = await meters.collect();
    expect(value(points, SELF_METRICS.spansDropped.name, { reason: 'memory queue full (durability none)' })).toBe(8);
    expect(value(points, SELF_METRICS.exportFailures.name)).toBeGreaterThan(0);
    expect(value(points, SELF_METRICS.journalWritePath.name, { path: 'none' })).toBe(1);
    exporter.failing = false;
  });
});

function loggerOf(spanProcessor: JournalSpanProcessor) {
  const provider = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor })] });
  cleanups.push(() => provider.shutdown());
  return provider.getLogger('metrics-test');
}

test('log records that find the journal full are counted as dropped, by reason', async () => {
  const meters = meterProvider();
  meters.register();
  const exporter = new CollectingExporter();
  exporter.failing = true;
  const processor = new JournalSpanProcessor({
    exporter,
    logExporter: new InMemoryLogRecordExporter(),
    journalDir: join(tempDir(), 'journal'),
    maxJournalBytes: 64 * 1024,
    scheduledDelayMillis: 20,
    recover: false,
  });
  track(providerWith(processor));
  const logger = loggerOf(processor);
  // Nothing is ever committed (the exporter fails), so 64 KiB of journal fill up.
  for (let i = 0; i < 1000; i++) logger.emit({ body: `line ${i} ${'x'.repeat(200)}`, severityNumber: SeverityNumber.INFO });
  const dropped = value(await meters.collect(), SELF_METRICS.logRecordsDropped.name, { reason: 'journal at maxJournalBytes' });
  expect(dropped).toBeGreaterThan(0);
  expect(dropped).toBeLessThan(1000);
  exporter.failing = false;
});

describe('with PostgreSQL: recovery and dead letters', () => {
  const db = new TestDatabase();
  let schema: string;
  beforeAll(async () => {
    schema = await db.freshSchema('self_metrics');
    await migrateSchema(db.pool, schema);
    // Stands in for any value PostgreSQL refuses for one record (as in deadLetters.test.ts).
    await db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT no_poison CHECK (NOT attributes ? 'poison')`);
  });
  afterAll(() => db.close());

  test('spans recovered and crash records written for a dead process, dead letters for a refused span, log records exported', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    // Ends 11 spans, leaves 3 open and exits with code 3 before its export loop ever runs.
    const child = runFixture(join(import.meta.dirname, '../fixtures/crashingService.mjs'), {
      DATABASE_URL: db.url,
      SCHEMA: schema,
      JOURNAL_DIR: journalDir,
      LEDGER: join(dir, 'ledger.jsonl'),
      CRASH_MODE: 'exit3',
    });
    await child.ready;
    expect((await child.exited).code).toBe(3);

    const meters = meterProvider();
    meters.register();
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir, scheduledDelayMillis: 20 });
    const tracer = track(providerWith(processor)).getTracer('metrics-test');
    await vi.waitFor(async () => expect(value(await meters.collect(), SELF_METRICS.crashRecords.name)).toBe(3), { timeout: 30_000, interval: 50 });

    tracer.startSpan('refused', { attributes: { poison: true } }).end();
    const accepted = tracer.startSpan('accepted');
    const logger = loggerOf(processor);
    for (const body of ['first', 'second']) logger.emit({ body, severityText: 'INFO', context: trace.setSpan(context.active(), accepted) });
    accepted.end();
    await processor.forceFlush();

    const points = await meters.collect();
    expect(value(points, SELF_METRICS.spansRecovered.name)).toBe(11);
    expect(value(points, SELF_METRICS.crashRecords.name)).toBe(3);
    expect(value(points, SELF_METRICS.deadLetters.name)).toBe(1);
    expect(value(points, SELF_METRICS.logRecordsExported.name)).toBe(2);
    expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters`)).toBe(1);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`)).toBe(3);
  });
});
