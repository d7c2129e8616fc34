// A backlog drained into PostgreSQL while the application waits on its event loop: how
// long the longest wait between two of its callbacks is (perf_hooks.monitorEventLoopDelay,
// max and p99), with maxExportBatchSize 512 (the default) and 2048. The backlog is made
// behind a closed gate (exports wait there, spans pile up), then the gate opens and the
// drain is measured until forceFlush() resolves.
//
// Baseline: the stock BatchSpanProcessor with the same PostgresSpanExporter and batch size
// (its queue large enough to hold the backlog): what exporting costs the event loop
// without a journal. Ours adds reading batches back from the journal and parsing them,
// and exports up to maxConcurrentExports (2) batches at once; a 2048-span batch's start
// (read, parse, first turn of rows) once took one turn, with a second batch's after it:
// 30-50 ms (src/processor/ExportLoop.ts).
//
// Each contender and batch size in a fresh process. Environment: BENCH_DRAIN_SPANS (100000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { JournalSpanProcessor, PostgresSpanExporter } from '../dist/esm/index.js';
import { migrateSchema } from '../dist/esm/postgres/migrate.js';
import { databaseUrl, fmt, httpSpanAttributes as attributes, printResult, resultOfChild, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_DRAIN_SPANS ?? 100_000);
const BATCH_SIZES = [512, 2048];
const BURST = 1_000;

/** Holds every export until opened, then passes them on: the backlog piles up behind it. */
class GatedExporter {
  #inner;
  #opened;
  #pending = 0;
  open;

  constructor(inner) {
    this.#inner = inner;
    this.#opened = new Promise((resolve) => (this.open = resolve));
  }

  export(spans, done) {
    this.#pending += 1;
    void this.#opened.then(() => this.#inner.export(spans, this.#settled(done)));
  }

  exportBatch(batch, done) {
    this.#pending += 1;
    void this.#opened.then(() => this.#inner.exportBatch(batch, this.#settled(done)));
  }

  /**
   * Every export handed over has answered. The stock processor's forceFlush() waits only
   * for the batches it forms itself, not for one it handed over before (held at the gate).
   */
  async idle() {
    while (this.#pending > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #settled(done) {
    return (result) => {
      this.#pending -= 1;
      done(result);
    };
  }

  shutdown() {
    return this.#inner.shutdown();
  }

  forceFlush() {
    return this.#inner.forceFlush();
  }
}

async function measure(contender, batchSize, schema) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-drain-'));
  const exporter = new GatedExporter(new PostgresSpanExporter({ connectionString: databaseUrl(), schema }));
  const processor =
    contender === 'stock'
      ? new BatchSpanProcessor({ exporter, maxExportBatchSize: batchSize, maxQueueSize: SPANS, scheduledDelayMillis: 60_000 })
      : new JournalSpanProcessor({ exporter, journalDir: join(dir, 'journal'), recover: false, maxExportBatchSize: batchSize, scheduledDelayMillis: 60_000 });
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'batch-drain' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  for (let made = 0; made < SPANS; made += BURST) {
    for (let i = 0; i < BURST; i++) {
      const span = tracer.startSpan('GET /orders/:id', { attributes });
      span.addEvent('cache miss', { key: 'order:12345' });
      span.end();
    }
    await yieldToEventLoop();
  }
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  exporter.open();
  await processor.forceFlush();
  await exporter.idle();
  const drainMs = performance.now() - started;
  delay.disable();
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
  const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".spans`);
  await pool.end();
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  if (rows[0].n !== SPANS) throw new Error(`${contender}, batch ${batchSize}: ${rows[0].n} of ${SPANS} spans in PostgreSQL`);
  return { drainMs, loopMax: delay.max / 1e6, loopP99: delay.percentile(99) / 1e6 };
}

if (process.env.BATCH_DRAIN_RUN) {
  // A failed export is said: the stock processor drops its batch, and the count check below fails.
  diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
  const [contender, batchSize, schema] = process.env.BATCH_DRAIN_RUN.split(' ');
  printResult(await measure(contender, Number(batchSize), schema));
} else {
  const schema = `bench_batch_drain_${process.pid}`;
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
  console.log(`batch drain: a backlog of ${fmt(SPANS)} spans (6 attributes, 1 event) drained into PostgreSQL; the event loop's longest wait meanwhile; each in a fresh process`);
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await migrateSchema(pool, schema);
    for (const batchSize of BATCH_SIZES) {
      for (const contender of ['stock', 'journal']) {
        await pool.query(`TRUNCATE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
        const result = await resultOfChild(import.meta.filename, { BATCH_DRAIN_RUN: `${contender} ${batchSize} ${schema}` });
        const name = contender === 'stock' ? 'stock BatchSpanProcessor' : "JournalSpanProcessor 'process'";
        console.log(
          `  batch ${String(batchSize).padStart(4)}  ${name.padEnd(32)} event loop max ${fmt(result.loopMax, 1).padStart(5)} ms, p99 ${fmt(result.loopP99, 1).padStart(5)} ms; ${fmt(SPANS / (result.drainMs / 1000)).padStart(6)} spans/s`,
        );
      }
    }
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
}
