// Spans left open (long jobs, or a leak: started and never ended) while the application
// keeps tracing: the longest single start+end call (the application's own thread, inside
// the tracer's API) and the longest event-loop delay, with 0 to 40,000 spans open, for
// the stock BatchSpanProcessor (which keeps nothing for an open span: the baseline) and
// JournalSpanProcessor. The journal must keep every open span's START while segments
// rotate and are deleted; it used to write all of them again into every new segment's
// head, inside whichever span call made the segment rotate (10,000 open: 45-62 ms).
// Also the time the garbage collector paused the application: what the journal keeps
// for an open span must not make every other span costlier to collect (StartText in
// src/journal/spanRecordJson.ts: 10,000 open once quadrupled the scavenges' time).
// And the heap still in use once they are all collected: what the open spans cost in
// memory, theirs (stock) and ours. The first WARMUP spans are not measured: the first bursts of any tracer run before
// V8 has compiled its code, 20-40 ms each here, stock or ours; that is paid once.
//
// Third, ours behind an exporter that takes 'started' rows (as PostgresSpanExporter does):
// every open span older than pendingSpanMillis is handed to it once, and the export loop
// must not go through all of them at every pass (100,000 open once held the event loop
// ~116 ms per pass).
//
// Last, why ours and stock both pay more with many spans open: V8 pretenures an allocation
// site whose objects survive, and thousands of the SDK's spans staying open make it do so
// for the SDK's own span literals (attributes, events, times). Every later span is then
// made in the old generation, where only a full collection frees it, and each scavenge
// takes longer (5-8 ms here with 40,000 open, against 1-2 with none). The longest call
// above is such a scavenge, run inside a span call. Running both again with pretenuring
// off (--no-allocation-site-pretenuring) shows the collector's part: a diagnostic of the
// mechanism, not a setting we ask of anyone.
//
// Each contender and count runs in a fresh process. Environment: BENCH_SPANS (100000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { JournalSpanProcessor } from '../dist/esm/index.js';
import { fmt, httpSpanAttributes as attributes, NoopExporter, printResult, resultOfChild, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 100_000);
const OPEN_COUNTS = [0, 1_000, 10_000, 40_000];
const BURST = 1_000;
const WARMUP = 20_000;

/** Takes spans and log records in one call, as PostgresSpanExporter: the processor sends it 'started' rows of open spans. */
class NoopBatchExporter extends NoopExporter {
  started = 0;
  exportBatch(batch, done) {
    const spans = typeof batch.spans === 'function' ? batch.spans() : batch.spans;
    for (const span of spans) if (span.attributes['otel_blackbox.state'] === 'started') this.started += 1;
    this.export(spans, done);
  }
}

async function measure(contender, open) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-open-'));
  const exporter = contender === 'started' ? new NoopBatchExporter() : new NoopExporter();
  const processor =
    contender === 'stock'
      ? new BatchSpanProcessor({ exporter })
      : new JournalSpanProcessor({ exporter, journalDir: join(dir, 'journal'), recover: false, ...(contender === 'started' ? { pendingSpanMillis: 100 } : {}) });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'open-spans' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  globalThis.gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const leaked = [];
  for (let i = 0; i < open; i++) leaked.push(tracer.startSpan('leaked job', { attributes }));
  await yieldToEventLoop();
  await bursts(tracer, WARMUP);
  const writtenBefore = contender === 'stock' ? 0 : processor.stats().journalBytesWritten;
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const longest = await bursts(tracer, SPANS);
  await provider.forceFlush();
  delay.disable();
  // Entries are delivered asynchronously: one more turn delivers the last ones.
  await yieldToEventLoop();
  gc.disconnect();
  globalThis.gc();
  const retainedMiB = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
  // The application holds its open spans until they end: without this, nothing would
  // refer to them after the loop above, and the stock processor's run would have none.
  for (const span of leaked) span.end();
  const written = contender === 'stock' ? 0 : processor.stats().journalBytesWritten - writtenBefore;
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  return { longest, loopMax: delay.max / 1e6, gcMs, retainedMiB, exported: exporter.exported, started: exporter.started ?? 0, bytesPerSpan: written / SPANS };
}

/** `count` spans in bursts, yielding between them; the longest single start+end, in ms. */
async function bursts(tracer, count) {
  let longest = 0;
  for (let done = 0; done < count; done += BURST) {
    for (let i = 0; i < BURST; i++) {
      const started = performance.now();
      const span = tracer.startSpan('GET /orders/:id', { attributes });
      span.addEvent('cache miss', { key: 'order:12345' });
      span.end();
      const took = performance.now() - started;
      if (took > longest) longest = took;
    }
    await yieldToEventLoop();
  }
  return longest;
}

if (process.env.OPEN_SPANS_RUN) {
  const [contender, open] = process.env.OPEN_SPANS_RUN.split(':');
  printResult(await measure(contender, Number(open)));
} else {
  console.log(`open spans: ${fmt(SPANS)} spans started and ended in bursts of ${fmt(BURST)} (after ${fmt(WARMUP)} unmeasured) while others stay open; no-op exporter; each in a fresh process`);
  for (const open of OPEN_COUNTS) {
    const line = [];
    for (const contender of ['stock', 'journal']) {
      const result = await resultOfChild(import.meta.filename, { OPEN_SPANS_RUN: `${contender}:${open}` }, ['--expose-gc']);
      const bytes = contender === 'stock' ? '' : `, journal ${fmt(result.bytesPerSpan)} bytes written per span`;
      line.push(`${contender === 'stock' ? 'stock' : 'ours'} longest call ${fmt(result.longest, 1)} ms, event loop max ${fmt(result.loopMax, 1)} ms, GC ${fmt(result.gcMs)} ms, heap +${fmt(result.retainedMiB, 1)} MiB${bytes}`);
    }
    console.log(`  ${fmt(open).padStart(6)} open: ${line.join(' | ')}`);
  }
  console.log("  ours behind an exporter that takes 'started' rows (pendingSpanMillis 100: every open span is sent once as 'started'):");
  for (const open of OPEN_COUNTS.slice(1)) {
    const result = await resultOfChild(import.meta.filename, { OPEN_SPANS_RUN: `started:${open}` }, ['--expose-gc']);
    console.log(`  ${fmt(open).padStart(6)} open: longest call ${fmt(result.longest, 1)} ms, event loop max ${fmt(result.loopMax, 1)} ms, GC ${fmt(result.gcMs)} ms, 'started' rows ${fmt(result.started)}`);
  }
  const open = OPEN_COUNTS.at(-1);
  console.log(`  ${fmt(open)} open, V8 run with --no-allocation-site-pretenuring (what pretenuring the SDK's span literals costs, both contenders):`);
  const line = [];
  for (const contender of ['stock', 'journal']) {
    const result = await resultOfChild(import.meta.filename, { OPEN_SPANS_RUN: `${contender}:${open}` }, ['--expose-gc', '--no-allocation-site-pretenuring']);
    line.push(`${contender === 'stock' ? 'stock' : 'ours'} longest call ${fmt(result.longest, 1)} ms, event loop max ${fmt(result.loopMax, 1)} ms, GC ${fmt(result.gcMs)} ms`);
  }
  console.log(`  ${fmt(open).padStart(6)} open: ${line.join(' | ')}`);
}
