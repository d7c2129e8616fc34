// PostgreSQL unreachable while SPANS spans are produced: memory must stay bounded (the
// backlog waits in the journal), and when the database returns the backlog drains.
// The exporter talks to PostgreSQL through a TCP proxy that refuses connections during
// the outage. Reports RSS growth, journal bytes, and the time to drain.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_SPANS (1000000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { JournalSpanProcessor, PostgresSpanExporter } from '../dist/esm/index.js';
import { migrateSchema } from '../dist/esm/postgres/migrate.js';
import { TcpProxy } from '../test/helpers/TcpProxy.mjs';
import { databaseUrl, fmt, httpSpanAttributes as attributes, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 1_000_000);
const url = databaseUrl();
const schema = `bench_outage_${process.pid}`;
const MiB = 2 ** 20;

const pool = new pg.Pool({ connectionString: url, max: 1 });
const proxy = await TcpProxy.create(url);
const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
try {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await migrateSchema(pool, schema);
  const exporter = new PostgresSpanExporter({ connectionString: proxy.urlFor(url), schema, migrate: false });
  const processor = new JournalSpanProcessor({
    exporter,
    journalDir: join(dir, 'journal'),
    recover: false,
    maxJournalBytes: 16 * 1024 ** 3,
    flushTimeoutMillis: 30 * 60_000,
  });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'outage' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  // Retained memory is what must stay bounded: the heap after a full GC (node --expose-gc,
  // as run-all does), sampled at each quarter of the run. RSS is shown too; V8 grows the
  // heap under allocation pressure and gives it back lazily.
  const retainedHeap = () => {
    global.gc?.();
    return process.memoryUsage().heapUsed;
  };
  const heapBefore = retainedHeap();
  const rssBefore = process.memoryUsage.rss();
  let peakRss = rssBefore;
  let peakJournal = 0;
  const quarters = [];
  const started = performance.now();
  for (let done = 0; done < SPANS; done += 5000) {
    for (let i = 0; i < 5000; i++) tracer.startSpan('GET /orders/:id', { attributes }).end();
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    peakJournal = Math.max(peakJournal, processor.stats().journalBytes);
    if ((done + 5000) % (SPANS / 4) === 0) quarters.push(retainedHeap());
    await yieldToEventLoop();
  }
  const produced = (performance.now() - started) / 1000;
  const during = processor.stats();
  console.log(`outage: ${fmt(SPANS)} spans produced in ${fmt(produced, 1)} s while PostgreSQL refused connections`);
  console.log(
    `  retained heap after GC: before ${fmt(heapBefore / MiB, 1)} MiB, at each quarter of the run ` +
      `${quarters.map((bytes) => fmt(bytes / MiB, 1)).join(' / ')} MiB; RSS ${fmt(rssBefore / MiB)} -> peak ${fmt(peakRss / MiB)} MiB`,
  );
  console.log(
    `  journal ${fmt(peakJournal / MiB)} MiB on disk; memory queue ${fmt(during.memoryQueueLength)}; ` +
      `${fmt(during.exportFailures)} failed attempts; dropped ${fmt(during.spansDropped)}`,
  );
  const returned = performance.now();
  await proxy.listen();
  await processor.forceFlush();
  const drained = (performance.now() - returned) / 1000;
  await provider.shutdown();
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".spans`);
  console.log(
    `  PostgreSQL back: ${fmt(rows[0].n)} of ${fmt(SPANS)} spans committed ${fmt(drained, 1)} s later = ${fmt(rows[0].n / drained)} spans/s drain; ` +
      `journal after drain ${fmt(processor.stats().journalBytes / MiB)} MiB`,
  );
  if (rows[0].n !== SPANS) process.exitCode = 1;
} finally {
  await proxy.refuse();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
}
