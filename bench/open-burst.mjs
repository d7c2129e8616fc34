// A burst of open spans (a stall downstream holds a million requests open, say), then all
// of them ended: the memory the process keeps afterwards, against the stock
// BatchSpanProcessor, which keeps nothing for a span once it is exported (the baseline).
// The journal's table of open spans grew to the burst and kept that room for the life of
// the process (48 MB after a million); it now gives it back at a commit. Printed: heap
// plus array buffers (the table's typed arrays) at the burst's height and a few seconds
// after it ended, each after a full collection.
//
// Each contender runs in a fresh process with --expose-gc. Environment: BENCH_BURST (200000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { JournalSpanProcessor } from '../dist/esm/index.js';
import { fmt, httpSpanAttributes as attributes, NoopExporter, printResult, resultOfChild } from './benchSupport.mjs';

const BURST = Number(process.env.BENCH_BURST ?? 200_000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Heap in use and array buffers, after a full collection, in MiB. */
function memoryMiB() {
  globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / 2 ** 20;
}

async function measure(contender) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-burst-'));
  const exporter = new NoopExporter();
  const processor = contender === 'stock' ? new BatchSpanProcessor({ exporter }) : new JournalSpanProcessor({ exporter, journalDir: join(dir, 'journal'), recover: false });
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'open-burst' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  // Warm: the structures of steady traffic, which both keep, are in the baseline.
  for (let i = 0; i < 2_000; i++) tracer.startSpan('GET /orders/:id', { attributes }).end();
  await provider.forceFlush();
  await sleep(1_500);
  const before = memoryMiB();
  let open = [];
  for (let i = 0; i < BURST; i++) open.push(tracer.startSpan('GET /orders/:id', { attributes }));
  const height = memoryMiB() - before;
  for (const span of open) span.end();
  open = undefined;
  // Ordinary traffic goes on for a few seconds after the burst, with its commits.
  for (let second = 0; second < 4; second++) {
    for (let i = 0; i < 500; i++) tracer.startSpan('GET /orders/:id', { attributes }).end();
    await provider.forceFlush();
    await sleep(1_000);
  }
  const after = memoryMiB() - before;
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  return { height, after };
}

if (process.env.OPEN_BURST_RUN) {
  printResult(await measure(process.env.OPEN_BURST_RUN));
} else {
  console.log(`open burst: ${fmt(BURST)} spans open at once, then all ended; no-op exporter; heap + array buffers after a full collection; each in a fresh process`);
  const results = {};
  for (const contender of ['stock', 'journal']) {
    results[contender] = await resultOfChild(import.meta.filename, { OPEN_BURST_RUN: contender }, ['--expose-gc']);
    const name = contender === 'stock' ? 'stock BatchSpanProcessor' : "JournalSpanProcessor 'process'";
    console.log(`  ${name.padEnd(32)} at the burst's height +${fmt(results[contender].height, 1)} MiB; 4 s after it ended +${fmt(results[contender].after, 1)} MiB  ${contender === 'stock' ? '[baseline]' : ''}`.trimEnd());
  }
  console.log(`  kept after the burst, over the baseline: ${fmt(results.journal.after - results.stock.after, 1)} MiB`);
}
