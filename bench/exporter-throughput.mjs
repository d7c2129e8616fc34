// Rows/s committed by PostgresSpanExporter (bulk unnest statements, one transaction per
// batch) against a naive exporter in the same run that issues one INSERT per span.
// Build first (`npm run build`); then `node bench/exporter-throughput.mjs`.
//
// Both sides get the same spans, the same batches, the same number of batches in flight
// and the same number of connections, and both commit one transaction per batch; the only
// difference is bulk statements vs one round trip per span. The naive side writes only
// the spans table (no trace rows, no events) with a plain INSERT (no ON CONFLICT), so the
// comparison flatters it.
//
// Each side runs BENCH_ROUNDS times, alternating, and the median round is reported: these
// machines are noisy, and alternating exposes both sides to the same noise.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
// BENCH_SPANS (100000), BENCH_BATCH (512), BENCH_IN_FLIGHT (4), BENCH_ROUNDS (3).
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { PostgresSpanExporter } from '../dist/esm/index.js';
import { NaiveSpanExporter } from './NaiveSpanExporter.mjs';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const total = Number(process.env.BENCH_SPANS ?? 100_000);
const batchSize = Number(process.env.BENCH_BATCH ?? 512);
const inFlight = Number(process.env.BENCH_IN_FLIGHT ?? 4);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const schema = `bench_exporter_${process.pid}`;
const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Realistic spans: traces of 10 (a server span and 9 children), 6 attributes and 1 event each. */
async function makeSpans() {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'checkout',
      'service.version': '1.42.0',
      'deployment.environment': 'production',
      'host.name': 'checkout-7d9f8b6c5-x2x9z',
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': '2.12.1',
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('@opentelemetry/instrumentation-http', '0.57.0');
  for (let t = 0; t < total / 10; t++) {
    const root = tracer.startSpan('GET /api/orders/:id', { kind: 1 });
    const parent = trace.setSpan(context.active(), root);
    for (let i = 0; i < 10; i++) {
      const span = i === 0 ? root : tracer.startSpan('SELECT orders', { kind: 2 }, parent);
      span.setAttributes({
        'http.request.method': 'GET',
        'url.path': `/api/orders/${t}`,
        'http.response.status_code': 200,
        'db.system': 'postgresql',
        'user.id': `user-${t % 997}`,
        'app.cache_hit': i % 3 === 0,
      });
      span.addEvent('rows fetched', { 'db.rows': i });
      if (i > 0) span.end();
    }
    root.end();
  }
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

async function runBatches(batches, write) {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < batches.length) await write(batches[next++]);
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return (performance.now() - started) / 1000;
}

function report(label, spans, seconds) {
  console.log(`${label}: ${number.format(spans)} spans in ${seconds.toFixed(1)} s = ${number.format(spans / seconds)} spans/s`);
  return spans / seconds;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function truncate(pool) {
  await pool.query(`TRUNCATE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
}

async function bulk(exporter, batches, pool) {
  await truncate(pool);
  const seconds = await runBatches(batches, (batch) => exportOnce(exporter, batch));
  const { rows } = await pool.query(`SELECT (SELECT count(*) FROM "${schema}".spans)::int AS spans, (SELECT count(*) FROM "${schema}".logs)::int AS logs`);
  if (rows[0].spans !== total || rows[0].logs !== total) throw new Error(`the exporter wrote ${JSON.stringify(rows[0])}`);
  return seconds;
}

function exportOnce(exporter, batch) {
  return new Promise((resolve, reject) =>
    exporter.export(batch, (result) => (result.code === 0 ? resolve() : reject(result.error))),
  );
}

async function naive(batches, pool) {
  await pool.query(`TRUNCATE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
  const exporter = new NaiveSpanExporter(pool, schema);
  return runBatches(batches, (batch) => exportOnce(exporter, batch));
}

const spans = await makeSpans();
const batches = [];
for (let i = 0; i < spans.length; i += batchSize) batches.push(spans.slice(i, i + batchSize));
const pool = new pg.Pool({ connectionString: url, max: inFlight });
const exporter = new PostgresSpanExporter({ connectionString: url, schema, maxConnections: inFlight });
try {
  // Migrate outside the timing.
  await exportOnce(exporter, batches[0].slice(0, 1));
  console.log(
    `${number.format(spans.length)} spans (6 attributes, 1 event each), batches of ${batchSize}, ${inFlight} in flight, median of ${rounds} rounds`,
  );
  const bulkSeconds = [];
  const naiveSeconds = [];
  for (let round = 0; round < rounds; round++) {
    bulkSeconds.push(await bulk(exporter, batches, pool));
    naiveSeconds.push(await naive(batches, pool));
  }
  const bulkRate = report('exporter bulk', spans.length, median(bulkSeconds));
  const naiveRate = report('naive one-INSERT-per-span', spans.length, median(naiveSeconds));
  console.log(`ratio: ${(bulkRate / naiveRate).toFixed(1)}x`);
} finally {
  await exporter.shutdown();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
