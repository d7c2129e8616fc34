// The SpanExporter contract: export() is never called concurrently for one exporter, and
// an exporter written for the stock processors may rely on it (a file writer interleaves
// its lines). PostgresSpanExporter commits each batch in a transaction of its own and takes
// them at once (maxConcurrentExports 2, recovery up to 4); any other exporter, behind the
// processor as behind recovery, gets one batch at a time unless told otherwise. Counted at
// a real exporter's calls over a real journal.
import { join } from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { resolveProcessorOptions } from '../../src/processor/processorOptions.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

/** An exporter that answers after `millis` and notes how many of its calls were under way at once. */
function slowExporter(millis: number) {
  const seen = { calls: 0, underWay: 0, mostAtOnce: 0, spanIds: [] as string[] };
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      seen.calls += 1;
      seen.underWay += 1;
      seen.mostAtOnce = Math.max(seen.mostAtOnce, seen.underWay);
      setTimeout(() => {
        seen.underWay -= 1;
        seen.spanIds.push(...spans.map((span) => span.spanContext().spanId));
        done({ code: ExportResultCode.SUCCESS });
      }, millis);
    },
    shutdown: async () => {},
  };
  return { exporter, seen };
}

test('behind the processor, an exporter that is not ours gets one batch at a time, each span once', async () => {
  const { exporter, seen } = slowExporter(20);
  const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), recover: false, scheduledDelayMillis: 5 });
  const tracer = providerWith(processor, 'one-at-a-time').getTracer('t');
  for (let i = 0; i < 3000; i++) tracer.startSpan(`span ${i}`).end();
  await processor.forceFlush();
  await processor.shutdown();

  expect(seen.calls).toBeGreaterThanOrEqual(6);
  expect(seen.mostAtOnce).toBe(1);
  expect(new Set(seen.spanIds).size).toBe(3000);
  expect(seen.spanIds.length).toBe(3000);
});

test('behind recovery, an exporter that is not ours gets one batch at a time, each span once', async () => {
  const { exporter, seen } = slowExporter(20);
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 3000);
  const report = await recoverJournals({ journalDir, exporter });

  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
  expect(seen.calls).toBeGreaterThanOrEqual(6);
  expect(seen.mostAtOnce).toBe(1);
  expect(seen.spanIds.length).toBe(3000);
});

test("the processor's export loop and its recovery of a dead journal, together, call an exporter that is not ours one at a time", async () => {
  // Each kept to one call, and together they made two at once (a review).
  const { exporter, seen } = slowExporter(20);
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 3000, { noDestination: 'Object' });
  const processor = new JournalSpanProcessor({ exporter, journalDir, scheduledDelayMillis: 5 });
  const tracer = providerWith(processor, 'loop-and-recovery').getTracer('t');
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 20; i++) tracer.startSpan(`span ${round}.${i}`).end();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await expect.poll(() => processor.stats().spansRecovered, { timeout: 10_000 }).toBe(dead.ended);
  await processor.shutdown();

  expect(seen.mostAtOnce).toBe(1);
  expect(new Set(seen.spanIds).size).toBe(800 + dead.ended + dead.open);
});

test('at shutdown, the crash records and the export loop call an exporter that is not ours one at a time', async () => {
  const { exporter, seen } = slowExporter(50);
  const slow = exporter.export.bind(exporter);
  let tracer: ReturnType<ReturnType<typeof providerWith>['getTracer']> | undefined;
  exporter.export = (spans, done) => {
    // A request that comes and goes while the crash record is on its way.
    if (spans.some((span) => span.name === 'open at shutdown')) tracer?.startSpan('during the crash export').end();
    slow(spans, done);
  };
  const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), recover: false, scheduledDelayMillis: 1 });
  tracer = providerWith(processor, 'crash-and-loop').getTracer('t');
  const open = tracer.startSpan('open at shutdown');
  await processor.shutdown();
  open.end();

  expect(seen.mostAtOnce).toBe(1);
  expect(seen.calls).toBe(2);
});

test('behind recovery, maxConcurrentExports given lets an exporter that can take them have batches at once', async () => {
  const { exporter, seen } = slowExporter(20);
  const journalDir = join(tempDir(), 'journal');
  writeDeadJournal(journalDir, 3000);
  const report = await recoverJournals({ journalDir, exporter, maxConcurrentExports: 3 });

  expect(report.failures).toEqual([]);
  expect(seen.mostAtOnce).toBe(3);
  expect(seen.spanIds.length).toBe(3000);
});

test('maxConcurrentExports: 2 behind PostgresSpanExporter, 1 behind any other, and what the options say either way', async () => {
  const journalDir = join(tempDir(), 'journal');
  const postgres = new PostgresSpanExporter({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
  const { exporter: other } = slowExporter(1);
  expect(resolveProcessorOptions({ exporter: postgres, journalDir }).maxConcurrentExports).toBe(2);
  expect(resolveProcessorOptions({ exporter: other, journalDir }).maxConcurrentExports).toBe(1);
  expect(resolveProcessorOptions({ exporter: other, journalDir, maxConcurrentExports: 3 }).maxConcurrentExports).toBe(3);
  expect(resolveProcessorOptions({ exporter: postgres, journalDir, maxConcurrentExports: 1 }).maxConcurrentExports).toBe(1);
  await postgres.shutdown();
});
