// Spans the application drops without ending them (an end() missing on an error path),
// a few in every burst of ordinary traffic: the heap still in use once the collector has
// run, against the stock BatchSpanProcessor, which keeps nothing for an open span and lets
// a dropped one be collected (the baseline). The journal used to keep every such span,
// and what it kept for its END, until the process exited; it now holds a span open a
// second or more weakly (src/journal/LongOpenSpans.ts), and writes a crash record for one
// that is collected while open. Printed: the heap growth, the spans the journal still
// holds, the crash records it wrote for dropped spans, and the longest event-loop delay.
//
// Each contender runs in a fresh process with --expose-gc. Environment: BENCH_DROPPED (40000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { JournalSpanProcessor } from '../dist/esm/index.js';
import { fmt, httpSpanAttributes as attributes, NoopExporter, printResult, resultOfChild, yieldToEventLoop } from './benchSupport.mjs';

const DROPPED = Number(process.env.BENCH_DROPPED ?? 40_000);
/** Dropped spans per burst, among this many ended ones: a leak on one path in eleven. */
const DROPPED_PER_BURST = 100;
const ENDED_PER_BURST = 1_000;

/** Counts the crash records of dropped spans among what it is sent. */
class CountingExporter extends NoopExporter {
  crashRecords = 0;
  export(spans, done) {
    for (const span of spans) if (span.attributes['otel_blackbox.state'] === 'crashed') this.crashRecords += 1;
    super.export(spans, done);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(contender) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-dropped-'));
  const exporter = new CountingExporter();
  const processor = contender === 'stock' ? new BatchSpanProcessor({ exporter }) : new JournalSpanProcessor({ exporter, journalDir: join(dir, 'journal'), recover: false });
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'dropped-spans' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  globalThis.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  for (let dropped = 0; dropped < DROPPED; dropped += DROPPED_PER_BURST) {
    for (let i = 0; i < ENDED_PER_BURST; i++) {
      const span = tracer.startSpan('GET /orders/:id', { attributes });
      span.addEvent('cache miss', { key: 'order:12345' });
      span.end();
    }
    for (let i = 0; i < DROPPED_PER_BURST; i++) tracer.startSpan('GET /orders/:id (error path, no end)', { attributes });
    await sleep(5);
  }
  const producedMs = performance.now() - started;
  // The journal looks every second; a span it saw open twice is held weakly. The full
  // collections forced here are the bench's own: left out of the event loop's delays.
  const collect = () => {
    delay.disable();
    globalThis.gc();
    delay.enable();
  };
  for (let i = 0; i < 5; i++) {
    await sleep(1000);
    collect();
  }
  await provider.forceFlush();
  await yieldToEventLoop();
  delay.disable();
  globalThis.gc();
  const retainedMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  const stats = contender === 'stock' ? undefined : processor.stats();
  // Before shutdown, which writes the crash records of the spans still open.
  const crashRecords = exporter.crashRecords;
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  return { retainedMiB, producedMs, loopMax: delay.max / 1e6, openSpans: stats?.openSpans ?? 0, abandoned: stats?.spansAbandoned ?? 0, crashRecords, journalBytes: stats?.journalBytes ?? 0 };
}

if (process.env.DROPPED_SPANS_RUN) {
  printResult(await measure(process.env.DROPPED_SPANS_RUN));
} else {
  console.log(
    `dropped spans: ${fmt(DROPPED)} spans started and never ended, ${DROPPED_PER_BURST} after each ${fmt(ENDED_PER_BURST)} ended ones; no-op exporter; heap after 5 s and a full collection; each in a fresh process`,
  );
  for (const contender of ['stock', 'journal']) {
    const result = await resultOfChild(import.meta.filename, { DROPPED_SPANS_RUN: contender }, ['--expose-gc']);
    const ours = contender === 'stock' ? '' : `, still held ${fmt(result.openSpans)}, crash records of dropped spans before shutdown ${fmt(result.crashRecords)} (stats().spansAbandoned ${fmt(result.abandoned)})`;
    console.log(`  ${(contender === 'stock' ? 'stock BatchSpanProcessor' : "JournalSpanProcessor 'process'").padEnd(32)} heap +${fmt(result.retainedMiB, 1)} MiB, event loop max ${fmt(result.loopMax, 1)} ms${ours}`);
  }
}
