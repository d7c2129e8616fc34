// End to end, tracer -> committed rows, when the producer outruns PostgreSQL: the stock
// BatchSpanProcessor and JournalSpanProcessor, same PostgresSpanExporter, same spans, in
// the same run. Counts the spans that reach the database; the stock processor drops what
// does not fit its in-memory queue, ours must drop none. Reports spans/s committed.
//
// Each contender runs in a process of its own, so neither starts with a heap the other
// already grew: run one after the other in one process, the second's RSS growth was
// measured from the first's peak (ours showed +84 MiB that way, +149 MiB alone).
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_SPANS (1000000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { JournalSpanProcessor, PostgresSpanExporter } from '../dist/esm/index.js';
import { databaseUrl, fmt, httpSpanAttributes as attributes, printResult, resultOfChild, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 1_000_000);
const url = databaseUrl();

async function run(label, schema, makeProcessor) {
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const exporter = new PostgresSpanExporter({ connectionString: url, schema });
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
  const processor = makeProcessor(exporter, join(dir, 'journal'));
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'overload' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  const rssBefore = process.memoryUsage.rss();
  // Sampled through the whole run, the drain after the last span included: the backlog's
  // export is where a journal holds most (until this round only the producing loop was
  // sampled, which missed it).
  let peakRss = rssBefore;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const start = performance.now();
  // As fast as the application can go, yielding only every 5,000 spans: a burst the
  // database cannot absorb as it happens.
  for (let done = 0; done < SPANS; done += 5000) {
    for (let i = 0; i < 5000; i++) {
      const span = tracer.startSpan('GET /orders/:id', { attributes });
      span.addEvent('cache miss', { key: 'order:12345' });
      span.end();
    }
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    await yieldToEventLoop();
  }
  const produced = performance.now() - start;
  const peakWhileProducing = peakRss;
  // The processor's own flush: the provider's would give up after its fixed 30 s.
  await processor.forceFlush();
  const committedAt = performance.now() - start;
  clearInterval(sampler);
  await provider.shutdown();
  const { rows } = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".spans`);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
  const committed = rows[0].n;
  console.log(
    `  ${label.padEnd(42)} produced in ${fmt(produced / 1000, 2)} s; committed ${fmt(committed)} of ${fmt(SPANS)} ` +
      `(dropped ${fmt(SPANS - committed)}) by ${fmt(committedAt / 1000, 2)} s = ${fmt(committed / (committedAt / 1000))} spans/s; ` +
      `peak RSS +${fmt((peakRss - rssBefore) / 2 ** 20)} MiB (while producing +${fmt((peakWhileProducing - rssBefore) / 2 ** 20)})`,
  );
  return { committed, spansPerSecond: committed / (committedAt / 1000) };
}

const contenders = {
  stock: () => run('stock BatchSpanProcessor (defaults)', `bench_overload_stock_${process.pid}`, (exporter) => new BatchSpanProcessor({ exporter })),
  ours: () =>
    run("JournalSpanProcessor 'process'", `bench_overload_journal_${process.pid}`, (exporter, journalDir) => new JournalSpanProcessor({ exporter, journalDir, recover: false, flushTimeoutMillis: 30 * 60_000 })),
};

/** Runs one contender in a fresh process: its report line passes through, its result comes back. */
const inChild = (name) => resultOfChild(import.meta.filename, { OVERLOAD_CONTENDER: name });

const only = process.env.OVERLOAD_CONTENDER;
if (only) {
  printResult(await contenders[only]());
} else {
  console.log(`overload: ${fmt(SPANS)} spans with 6 attributes and 1 event, produced in bursts of 5,000, into PostgreSQL; each in a fresh process`);
  const stock = await inChild('stock');
  const ours = await inChild('ours');
  console.log(`  dropped: stock ${fmt(SPANS - stock.committed)}, ours ${fmt(SPANS - ours.committed)}; end-to-end ours ${fmt(ours.spansPerSecond)} spans/s`);
  if (ours.committed !== SPANS) process.exitCode = 1;
}
