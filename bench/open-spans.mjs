// Spans left open (long jobs, or a leak: started and never ended) while the application
// keeps tracing: the longest single start+end call (the application's own thread, inside
// the tracer's API) and the longest event-loop delay, with 0 to 40,000 spans open, for
// the stock BatchSpanProcessor (which keeps nothing for an open span: the baseline) and
// JournalSpanProcessor. The journal must keep every open span's START while segments
// rotate and are deleted; it used to write all of them again into every new segment's
// head, inside whichever span call made the segment rotate (10,000 open: 45-62 ms).
//
// Each contender and count runs in a fresh process. Environment: BENCH_SPANS (100000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { JournalSpanProcessor } from '../dist/esm/index.js';
import { fmt, NoopExporter, printResult, resultOfChild, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 100_000);
const OPEN_COUNTS = [0, 1_000, 10_000, 40_000];
const BURST = 1_000;
const attributes = { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'url.path': '/orders/12345', 'http.response.status_code': 200, 'user_agent.original': 'bench/1.0', 'server.address': 'shop.example' };

async function measure(contender, open) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-open-'));
  const exporter = new NoopExporter();
  const processor =
    contender === 'stock' ? new BatchSpanProcessor({ exporter }) : new JournalSpanProcessor({ exporter, journalDir: join(dir, 'journal'), recover: false });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'open-spans' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  const leaked = [];
  for (let i = 0; i < open; i++) leaked.push(tracer.startSpan('leaked job', { attributes }));
  await yieldToEventLoop();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let longest = 0;
  for (let done = 0; done < SPANS; done += BURST) {
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
  await provider.forceFlush();
  delay.disable();
  const written = contender === 'stock' ? 0 : processor.stats().journalBytesWritten;
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  return { longest, loopMax: delay.max / 1e6, exported: exporter.exported, bytesPerSpan: written / (SPANS + open) };
}

if (process.env.OPEN_SPANS_RUN) {
  const [contender, open] = process.env.OPEN_SPANS_RUN.split(':');
  printResult(await measure(contender, Number(open)));
} else {
  console.log(`open spans: ${fmt(SPANS)} spans started and ended in bursts of ${fmt(BURST)} while others stay open; no-op exporter; each in a fresh process`);
  for (const open of OPEN_COUNTS) {
    const line = [];
    for (const contender of ['stock', 'journal']) {
      const result = await resultOfChild(import.meta.filename, { OPEN_SPANS_RUN: `${contender}:${open}` });
      const bytes = contender === 'stock' ? '' : `, journal ${fmt(result.bytesPerSpan)} bytes written per span`;
      line.push(`${contender === 'stock' ? 'stock' : 'ours'} longest call ${fmt(result.longest, 1)} ms, event loop max ${fmt(result.loopMax, 1)} ms${bytes}`);
    }
    console.log(`  ${fmt(open).padStart(6)} open: ${line.join(' | ')}`);
  }
}
