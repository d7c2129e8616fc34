// What the journal keeps for a span while it is open, measured as heap after full
// collections, against the stock BatchSpanProcessor holding the same spans open (whose
// heap is the spans themselves). A burst of 200,000 spans opened in one turn took 421 MiB
// against the stock processor's 171 (bench/open-burst.mjs): each START's fields before
// the attributes, kept for its END, were a rope of ~15 pieces (~500 bytes) until a commit
// flattened it, and no commit comes inside one turn: this measured ~1,280 bytes a span over
// the stock processor then. Kept flat from the start, the journal adds ~800: the START's
// texts an END reuses, the attributes' snapshot, the table entry. The bound below is the
// contract, with room for V8's and the SDK's versions.
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collector, collectFully } from '../helpers/heldBehindLock.js';
import { useTempDirs } from '../helpers/tempDir.js';

const OPEN = 20_000;
const gc = collector();
const tempDir = useTempDirs();

/** The span of a web request, as the benchmarks make it (bench/benchSupport.mjs): six attributes. */
const attributes = { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'url.path': '/orders/12345', 'http.response.status_code': 200, 'user_agent.original': 'bench/1.0', 'server.address': 'shop.example' };

/** Heap bytes per span held while `OPEN` spans are open under `processor`; they are ended and flushed after. */
async function heapPerOpenSpan(processor: SpanProcessor): Promise<number> {
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'open-span-memory' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('open-span-memory');
  // Warm: what steady traffic builds (compiled code, the tracer's scope) is not counted.
  for (let i = 0; i < 2_000; i++) tracer.startSpan('GET /orders/:id', { attributes }).end();
  await provider.forceFlush();
  await collectFully(gc);
  const before = process.memoryUsage().heapUsed;
  let open: Span[] | undefined = [];
  for (let i = 0; i < OPEN; i++) open.push(tracer.startSpan('GET /orders/:id', { attributes }) as Span);
  await collectFully(gc);
  const perSpan = (process.memoryUsage().heapUsed - before) / OPEN;
  for (const span of open) span.end();
  open = undefined;
  await provider.shutdown();
  return perSpan;
}

test('an open span costs the journal under 1 KB of heap beyond the span itself, from the turn it starts', async () => {
  const stock = await heapPerOpenSpan(new BatchSpanProcessor({ exporter: new CollectingExporter() }));
  const journal = await heapPerOpenSpan(new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false }));
  // The stock processor keeps nothing of its own: its figure is the span (~900 bytes).
  expect(stock).toBeGreaterThan(300);
  expect(journal - stock, `journal ${Math.round(journal)} bytes a span, stock ${Math.round(stock)}`).toBeLessThan(1_000);
});
