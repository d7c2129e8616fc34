// The logs signal: nanoseconds a logger.emit() costs the application with
// JournalLogRecordProcessor, against the stock BatchLogRecordProcessor with the same no-op
// exporter, in the same run (rounds alternate); then log records per second end to end,
// logger.emit() -> committed rows in PostgreSQL, each inside a span (their spans' rows
// commit in the same transactions). Records are emitted in chunks with a yield between
// them, so both processors run in their steady state; only the synchronous time inside the
// chunks is the application's cost.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } from '../dist/esm/index.js';
import { NoopExporter, databaseUrl, fmt, summary, yieldToEventLoop } from './benchSupport.mjs';

const RECORDS = Number(process.env.BENCH_LOGS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHUNK = 64;
const resource = resourceFromAttributes({ 'service.name': 'bench', 'service.version': '1.0.0', 'host.name': 'bench-host' });
// A typical structured line: pino's shape through its instrumentation.
const record = { severityNumber: SeverityNumber.INFO, severityText: 'info', body: 'order 12345 charged', attributes: { 'order.id': '12345', amount: 59.9, currency: 'EUR' } };

async function emitCost(makeProcessor) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-logs-'));
  const { processor, close } = makeProcessor(join(dir, 'journal'));
  const provider = new LoggerProvider({ resource, processors: [processor] });
  const logger = provider.getLogger('bench', '1.0.0');
  let callerNs = 0n;
  for (let done = 0; done < RECORDS; done += CHUNK) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) logger.emit(record);
    callerNs += process.hrtime.bigint() - start;
    await yieldToEventLoop();
  }
  await provider.forceFlush();
  await provider.shutdown();
  await close();
  rmSync(dir, { recursive: true, force: true });
  return Number(callerNs) / RECORDS;
}

const contenders = {
  'stock BatchLogRecordProcessor': () => ({ processor: new BatchLogRecordProcessor({ exporter: new NoopExporter() }), close: async () => {} }),
  "JournalLogRecordProcessor, 'process'": (journalDir) => {
    const spans = new JournalSpanProcessor({ exporter: new NoopExporter(), logExporter: new NoopExporter(), journalDir, recover: false });
    return { processor: new JournalLogRecordProcessor({ spanProcessor: spans }), close: () => spans.shutdown() };
  },
};

const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of Object.entries(contenders)) results[name].push(await emitCost(make));
}
const baseline = summary(results['stock BatchLogRecordProcessor']).median;
console.log(`log path: ${fmt(RECORDS)} logger.emit() x ${ROUNDS} rounds, same no-op exporter (node ${process.version})`);
for (const [name, values] of Object.entries(results)) {
  const { median, min, max } = summary(values);
  const added = name.startsWith('stock') ? '' : `  (${fmt(median - baseline)} ns added)`;
  console.log(`  ${name.padEnd(40)} ${fmt(median)} ns per emit (min ${fmt(min)}, max ${fmt(max)})${added}`);
}

// End to end: every record inside a span, so its span row commits with it.
const schema = 'bench_logs';
const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-logs-e2e-'));
const spans = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl(), schema }), journalDir: join(dir, 'journal'), recover: false });
const tracerProvider = new TracerProvider({ resource, spanProcessors: [spans] });
const loggerProvider = new LoggerProvider({ resource, processors: [new JournalLogRecordProcessor({ spanProcessor: spans })] });
const tracer = tracerProvider.getTracer('bench');
const logger = loggerProvider.getLogger('bench');
// Migrate before the clock starts.
await tracerProvider.forceFlush();
tracer.startSpan('warm-up').end();
await tracerProvider.forceFlush();
const LOGS_PER_SPAN = 10;
const started = process.hrtime.bigint();
for (let done = 0; done < RECORDS; done += LOGS_PER_SPAN) {
  const span = tracer.startSpan('GET /orders/:id');
  const ctx = trace.setSpan(context.active(), span);
  for (let i = 0; i < LOGS_PER_SPAN; i++) logger.emit({ ...record, context: ctx });
  span.end();
  if (done % (LOGS_PER_SPAN * CHUNK) === 0) await yieldToEventLoop();
}
await loggerProvider.forceFlush();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const stored = Number((await pool.query(`SELECT count(*) FROM ${schema}.logs WHERE kind = 'log'`)).rows[0].count);
const orphans = Number(
  (await pool.query(`SELECT count(*) FROM ${schema}.logs l WHERE kind = 'log' AND NOT EXISTS (SELECT 1 FROM ${schema}.spans s WHERE s.trace_id = l.trace_id AND s.span_id = l.span_id)`)).rows[0].count,
);
console.log(
  `  end to end, logger.emit() -> committed rows: ${fmt(stored / seconds)} log records/s (${fmt(stored)} records and ${fmt(RECORDS / LOGS_PER_SPAN)} spans in ${fmt(seconds, 2)} s; ${orphans} orphan log rows)`,
);
await loggerProvider.shutdown();
await tracerProvider.shutdown();
await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
await pool.end();
rmSync(dir, { recursive: true, force: true });
