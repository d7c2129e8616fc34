// Spans open longer than pendingSpanMillis go to the exporter once each as 'started' rows
// (behind an exporter that takes log records too, as PostgresSpanExporter). The scan reads
// the journal's open spans from where its last pass stopped: before, every pass went
// through every span already sent and still open (100,000 open held the event loop ~116 ms
// at every pass), and a span dated in the future by a wall clock stepped back since held
// back every span after it for as long as the step.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import type { SpansAndLogs } from '../../src/export/SpansAndLogs.js';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

/** Takes spans and log records in one call, as PostgresSpanExporter does: open spans are sent as 'started'. */
class BatchCollector {
  readonly started: string[] = [];
  readonly ended: string[] = [];
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.exportBatch({ spans, logs: [] }, done);
  }
  exportBatch(batch: SpansAndLogs, done: (result: ExportResult) => void): void {
    const spans = typeof batch.spans === 'function' ? batch.spans() : batch.spans;
    for (const span of spans) (span.attributes[ATTR_SPAN_STATE] === 'started' ? this.started : this.ended).push(span.name);
    setImmediate(() => done({ code: ExportResultCode.SUCCESS }));
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

function processorWith(exporter: BatchCollector): JournalSpanProcessor {
  return new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, pendingSpanMillis: 50, scheduledDelayMillis: 10 });
}

test("each span open past pendingSpanMillis is sent once as 'started', oldest first; one that ended first is not, and later ones are read on", async () => {
  const exporter = new BatchCollector();
  const processor = processorWith(exporter);
  const tracer = providerWith(processor).getTracer('t');
  const spans = ['a', 'b', 'c', 'd'].map((name) => tracer.startSpan(name));
  spans[1]!.end();
  await expect.poll(() => exporter.started, { timeout: 5000, interval: 10 }).toEqual(['a', 'c', 'd']);
  spans[0]!.end();
  const late = tracer.startSpan('e');
  await expect.poll(() => exporter.started, { timeout: 5000, interval: 10 }).toEqual(['a', 'c', 'd', 'e']);
  // Further passes send none of them again.
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(exporter.started).toEqual(['a', 'c', 'd', 'e']);
  expect(exporter.ended).toEqual(['b', 'a']);
  // A 'started' row is not a span exported: each counts once, when it ends.
  expect(processor.stats().spansExported).toBe(2);
  for (const span of [spans[2]!, spans[3]!, late]) span.end();
  await processor.shutdown();
  expect(exporter.ended).toEqual(['b', 'a', 'c', 'd', 'e']);
});

test('a span dated after the wall clock (stepped back since it started) does not hold back the spans after it', async () => {
  const exporter = new BatchCollector();
  const processor = processorWith(exporter);
  const tracer = providerWith(processor).getTracer('t');
  // Started an hour "in the future": the clock was stepped back by an hour since.
  const early = tracer.startSpan('before the step', { startTime: Date.now() + 3_600_000 });
  const after = tracer.startSpan('after the step');
  await expect.poll(() => exporter.started, { timeout: 5000, interval: 10 }).toEqual(['before the step', 'after the step']);
  early.end();
  after.end();
  await processor.shutdown();
});

test("a span that started while the journal was full gets its 'started' row once its START is written; the ones after it wait behind it", async () => {
  // Before: the scan passed over it for good while its START was not journaled, and never
  // came back to it once it was.
  const journalDir = tempDir();
  const writer = new JournalWriter({
    journalDir, identity: currentWriterIdentity(), durability: 'process', maxSegmentBytes: 4096, maxJournalBytes: 64 * 1024, groupCommitMillis: 5, heartbeatIntervalMs: 1000, lock: false,
  });
  const tracer = new TracerProvider().getTracer('t');
  const padding = 'x'.repeat(500);
  let refused: ReadableSpan | undefined;
  for (let i = 0; i < 10_000 && refused === undefined; i++) {
    const span = tracer.startSpan('filler', { attributes: { padding } }) as unknown as ReadableSpan & { end(): void };
    if (writer.appendStart(span) === 'full') refused = span;
    else {
      span.end();
      writer.appendEnd(span);
    }
  }
  expect(refused).toBeDefined();
  expect(writer.nextUnreadOpenSpan()).toBeUndefined();
  const at = writer.position();
  writer.appendCommit(at);
  writer.deleteSegmentsBefore(at.segment + 1);
  const { traceId, spanId } = refused!.spanContext();
  await expect.poll(() => writer.openSpan(traceId, spanId), { timeout: 5000, interval: 10 }).toBe(refused);
  expect(writer.nextUnreadOpenSpan()).toBe(refused);
  writer.close({ removeIfDone: false });
});
