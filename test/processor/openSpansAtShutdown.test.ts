// Spans still open when the processor shuts down never reach onEnd in this process. Their
// crash records used to wait in the journal for a later process's recovery: never, when the
// journal directory goes with the process (a Kubernetes emptyDir, a container's own file
// system), and a 'started' row (pendingSpanMillis) then read as running for good. The
// processor now writes them itself while the database is reachable, and its journal is
// removed as any finished journal is; when the database is not reachable they stay in the
// journal for recovery, as before.
import { context, trace } from '@opentelemetry/api';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { expect, test } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';
import { ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { ShutdownCrashRecords } from '../../src/processor/crashRecordsAtShutdown.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'open_at_shutdown', (name) => (schema = name));

const writerDirs = (journalDir: string) => (existsSync(journalDir) ? readdirSync(journalDir).filter((name) => name.startsWith('w')) : []);

test("open spans get their crash records at shutdown: the 'started' row becomes 'crashed', and the journal is gone", async () => {
  const journalDir = join(tempDir(), 'journal');
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, pendingSpanMillis: 20, scheduledDelayMillis: 10 });
  const provider = providerWith(processor, 'open-at-shutdown');
  const logs = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
  const tracer = provider.getTracer('t');
  tracer.startSpan('ended').end();
  const job = tracer.startSpan('long job', { attributes: { 'job.id': 7 } });
  job.setAttribute('job.step', 'copying');
  job.addEvent('checkpoint');
  logs.getLogger('t').emit({ body: 'working', context: trace.setSpan(context.active(), job) });
  await expect.poll(() => db.count(`SELECT count(*) FROM "${schema}".spans WHERE name = 'long job' AND state = 'started'`), { timeout: 10_000 }).toBe(1);

  await logs.shutdown();
  await provider.shutdown();

  const [row] = await db.query<{ state: string; crash_reason: string; end_time_estimated: boolean; attributes: Record<string, unknown>; span_id: string }>(
    `SELECT state, crash_reason, end_time_estimated, attributes, span_id FROM "${schema}".spans WHERE name = 'long job'`,
  );
  expect(row).toMatchObject({ state: 'crashed', end_time_estimated: true, span_id: job.spanContext().spanId });
  expect(row!.crash_reason).toMatch(/still open when the span processor shut down/);
  // As the span was at shutdown, not only as it started.
  expect(row!.attributes).toMatchObject({ 'job.id': 7, 'job.step': 'copying' });
  expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE span_id = $1 AND kind = 'event'`, [job.spanContext().spanId])).toBe(1);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE service_name = 'open-at-shutdown'`)).toBe(2);
  expect(processor.stats().crashRecordsWritten).toBe(1);
  // Nothing left for a recovery to write again.
  expect(writerDirs(journalDir)).toEqual([]);
  job.end();
});

test('the database down at shutdown: the open span stays in the journal, and recovery writes its crash record', async () => {
  const journalDir = join(tempDir(), 'journal');
  const down = new CollectingExporter();
  down.failing = true;
  const processor = new JournalSpanProcessor({ exporter: down, journalDir, recover: false, flushTimeoutMillis: 300 });
  const tracer = providerWith(processor, 'down-at-shutdown').getTracer('t');
  const open = tracer.startSpan('open');
  await processor.shutdown();
  expect(processor.stats().crashRecordsWritten).toBe(0);
  expect(writerDirs(journalDir)).toHaveLength(1);

  const exporter = new CollectingExporter();
  expect(await recoverJournals({ journalDir, exporter })).toMatchObject({ spansCrashed: 1 });
  expect(exporter.spans.map((span) => span.spanContext().spanId)).toEqual([open.spanContext().spanId]);
  open.end();
});

test('a span that ends while its crash record is being exported: an exporter naming no destination gets the crash record alone, and the journal is gone', async () => {
  // Before: the export loop had stopped by then; the END stayed in the journal for a
  // recovery that never comes when the directory goes with the process. Then the END was
  // sent after the crash record: two spans of one id, with conflicting statuses, for an
  // exporter that cannot let one replace the other (OTLP, a file; a review).
  const journalDir = join(tempDir(), 'journal');
  let job: ReturnType<ReturnType<ReturnType<typeof providerWith>['getTracer']>['startSpan']> | undefined;
  const exporter = new CollectingExporter();
  const collect = exporter.export.bind(exporter);
  exporter.export = (spans, done) => {
    // The crash record on its way: the application ends the span meanwhile.
    if (spans.some((span) => span.attributes[ATTR_SPAN_STATE] === 'crashed')) job?.end();
    collect(spans, done);
  };
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, scheduledDelayMillis: 10 });
  job = providerWith(processor, 'ends-meanwhile').getTracer('t').startSpan('ends meanwhile');
  await processor.shutdown();

  const states = exporter.spans.map((span) => [span.name, span.attributes[ATTR_SPAN_STATE] ?? 'ended']);
  expect(states).toEqual([['ends meanwhile', 'crashed']]);
  expect(writerDirs(journalDir)).toEqual([]);
});

test('a span that ends while its crash record is on its way, which is never sent: recovery stores it as ended, not crashed', async () => {
  // Held and dropped, its END was lost with the export: a span that ended cleanly during a
  // shutdown with the collector down was recovered as crashed (a review).
  const journalDir = join(tempDir(), 'journal');
  let job: ReturnType<ReturnType<ReturnType<typeof providerWith>['getTracer']>['startSpan']> | undefined;
  const exporter = new CollectingExporter();
  exporter.export = (_spans, done) => {
    job?.end();
    setTimeout(() => done({ code: ExportResultCode.FAILED, error: new Error('collector down (test)') }), 5);
  };
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, scheduledDelayMillis: 10, flushTimeoutMillis: 300 });
  job = providerWith(processor, 'never-sent').getTracer('t').startSpan('ends meanwhile');
  await processor.shutdown();

  const later = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter: later, staleAfterMillis: 1 });
  expect(report).toMatchObject({ journals: 1, spansEnded: 1, spansCrashed: 0 });
  expect(later.spans.map((span) => [span.name, span.attributes[ATTR_SPAN_STATE] ?? 'ended'])).toEqual([['ends meanwhile', 'ended']]);
});

test('a span whose START the journal never took, ending while its crash record is on its way: the crash record alone', async () => {
  const journalDir = join(tempDir(), 'journal');
  let job: ReturnType<ReturnType<ReturnType<typeof providerWith>['getTracer']>['startSpan']> | undefined;
  const exporter = new CollectingExporter();
  const collect = exporter.export.bind(exporter);
  exporter.export = (spans, done) => {
    if (spans.some((span) => span.attributes[ATTR_SPAN_STATE] === 'crashed')) job?.end();
    collect(spans, done);
  };
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, scheduledDelayMillis: 10, maxJournalBytes: 8192, maxSegmentBytes: 4096 });
  job = providerWith(processor, 'unjournaled').getTracer('t').startSpan('big open', { attributes: { pad: 'x'.repeat(20_000) } });
  expect(processor.stats().journalFull).toBe(true);
  await processor.shutdown();

  expect(exporter.spans.map((span) => [span.name, span.attributes[ATTR_SPAN_STATE] ?? 'ended'])).toEqual([['big open', 'crashed']]);
});

test('a span that ends while its crash record is being exported: PostgreSQL keeps the ended row, which replaces the crash record', async () => {
  const journalDir = join(tempDir(), 'journal');
  let job: ReturnType<ReturnType<ReturnType<typeof providerWith>['getTracer']>['startSpan']> | undefined;
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  // The processor hands PostgresSpanExporter its batches through exportBatch(). Nothing
  // ended before shutdown: its first batch then is the crash record.
  let stopping = false;
  const write = exporter.exportBatch.bind(exporter);
  exporter.exportBatch = (...args) => {
    if (stopping) job?.end();
    write(...args);
  };
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, scheduledDelayMillis: 10 });
  job = providerWith(processor, 'ends-meanwhile-pg').getTracer('t').startSpan('ends meanwhile');
  stopping = true;
  await processor.shutdown();

  const rows = await db.query<{ state: string }>(`SELECT state FROM "${schema}".spans WHERE service_name = 'ends-meanwhile-pg'`);
  expect(rows).toEqual([{ state: 'ended' }]);
  expect(writerDirs(journalDir)).toEqual([]);
  // One span, one count: exported, not a crash record too.
  expect(processor.stats()).toMatchObject({ spansExported: 1, crashRecordsWritten: 0 });
});

// A review: a span ending just as its crash record committed took the count from 1 to 0,
// which a metrics backend reads as a counter reset. Shutdown's crash records count once it is over.
test('crashRecordsWritten never goes down: a span ending just as its crash record commits', async () => {
  const journalDir = join(tempDir(), 'journal');
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: db.url, schema }), journalDir, recover: false, scheduledDelayMillis: 100 });
  const tracer = providerWith(processor, 'ends-at-commit').getTracer('t');
  const open = tracer.startSpan('request');
  const seen: number[] = [];
  const written = ShutdownCrashRecords.prototype.written;
  ShutdownCrashRecords.prototype.written = function (this: ShutdownCrashRecords, spans) {
    written.call(this, spans);
    seen.push(processor.stats().crashRecordsWritten);
    open.end();
    seen.push(processor.stats().crashRecordsWritten);
  };
  try {
    await processor.shutdown();
  } finally {
    ShutdownCrashRecords.prototype.written = written;
  }
  seen.push(processor.stats().crashRecordsWritten);
  for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
  const rows = await db.query<{ state: string }>(`SELECT state FROM "${schema}".spans WHERE service_name = 'ends-at-commit'`);
  expect(rows).toEqual([{ state: 'ended' }]);
  expect(processor.stats()).toMatchObject({ crashRecordsWritten: 0, spansExported: 1 });
});

// An accounting review: 40 requests finishing one by one while shutdown() drains, each
// stored as ended; stats() said 41 exported and 37 crash records, a false crash for an
// alert on crashRecordsWritten.
test('spans that end while shutdown sends their crash records: each counted once, and crashRecordsWritten counts the crashed rows', async () => {
  const journalDir = join(tempDir(), 'journal');
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: db.url, schema }), journalDir, recover: false, scheduledDelayMillis: 100, maxExportBatchSize: 10 });
  const tracer = providerWith(processor, 'finishing-requests').getTracer('t');
  tracer.startSpan('warm').end();
  await processor.forceFlush();
  const open = Array.from({ length: 40 }, (_, i) => tracer.startSpan(`request ${i}`));
  const ending = (async () => {
    for (const span of open.slice(0, 30)) {
      span.end();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  await processor.shutdown();
  await ending;
  const rows = await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM "${schema}".spans WHERE service_name = 'finishing-requests' GROUP BY state`);
  const stored = Object.fromEntries(rows.map((row) => [row.state, row.n]));
  const stats = processor.stats();
  expect((stored.ended ?? 0) + (stored.crashed ?? 0)).toBe(41);
  expect(stats.spansExported + stats.crashRecordsWritten).toBe(41);
  expect(stats.crashRecordsWritten).toBe(stored.crashed ?? 0);
  for (const span of open.slice(30)) span.end();
});

test('an open span whose START the journal never took (at its cap), its crash record not sent: counted as dropped, in an overflow marker', async () => {
  const journalDir = join(tempDir(), 'journal');
  const down = new CollectingExporter();
  down.failing = true;
  const processor = new JournalSpanProcessor({ exporter: down, journalDir, recover: false, maxJournalBytes: 8192, maxQueueSize: 10_000, flushTimeoutMillis: 300 });
  const tracer = providerWith(processor, 'unjournaled-at-shutdown').getTracer('t');
  const pad = { pad: 'x'.repeat(100) };
  for (let i = 0; i < 1000 && !processor.stats().journalFull; i++) tracer.startSpan(`fill ${i}`, { attributes: pad }).end();
  expect(processor.stats().journalFull).toBe(true);
  const open = tracer.startSpan('open, no START', { attributes: pad });
  await processor.shutdown();
  const reason = 'open at shutdown without a START in the journal; its crash record could not be exported';
  expect(processor.stats().spansDroppedByReason[reason]).toBe(1);

  // The drop survives the process, as an overflow marker recovery exports.
  const exporter = new CollectingExporter();
  await recoverJournals({ journalDir, exporter });
  const marker = exporter.spans.find((span) => span.name === 'otel_blackbox.journal_overflow');
  expect(marker?.attributes['otel_blackbox.drop.reasons']).toContain(reason);
  open.end();
});

test('stats().openSpans counts the spans started and not ended, so a leak (spans never ended) shows as a count that only grows', async () => {
  const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
  const provider = providerWith(processor, 'open-count');
  const tracer = provider.getTracer('t');
  const spans = [tracer.startSpan('a'), tracer.startSpan('b'), tracer.startSpan('c')];
  expect(processor.stats().openSpans).toBe(3);
  spans[1]!.end();
  expect(processor.stats().openSpans).toBe(2);
  await provider.shutdown();
  expect(processor.stats().openSpans).toBe(0);
});

// A start the application gave as no time at all (NaN, Infinity, an Invalid Date) is stored
// as the epoch on both paths. The crash record written at shutdown ended there too, with a
// duration of 0, while the one recovery writes after a SIGKILL ends at the last heartbeat:
// its comparison with the stopping time took NaN for the later of the two (an attack).
test.each([
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['an Invalid Date', new Date(Number.NaN)],
])('a span open at shutdown that started at %s ends when the processor stopped, as after a crash', async (_, startTime) => {
  const journalDir = join(tempDir(), 'journal');
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, scheduledDelayMillis: 10 });
  const provider = providerWith(processor, 'open-at-shutdown-no-start');
  const before = Date.now();
  const job = provider.getTracer('t').startSpan(`no start ${String(startTime)}`, { startTime });

  await provider.shutdown();

  const [row] = await db.query<{ state: string; end_ms: number }>(
    `SELECT state, extract(epoch FROM end_time) * 1000 AS end_ms FROM "${schema}".spans WHERE span_id = $1`,
    [job.spanContext().spanId],
  );
  expect(row?.state).toBe('crashed');
  expect(Number(row!.end_ms)).toBeGreaterThanOrEqual(before - 1000);
  job.end();
});
