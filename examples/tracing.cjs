// Tracing setup for any Node.js service, loaded before the application:
//
//   node -r ./examples/tracing.cjs app.js          (CommonJS)
//   node --import ./examples/tracing.mjs app.mjs   (ESM: same code with import)
//
// Spans are journaled synchronously by JournalSpanProcessor and committed to PostgreSQL
// by PostgresSpanExporter; if the process dies, the next start (or `npx otel-blackbox
// recover`) turns its open spans into crash records.
'use strict';
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg');
const { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } = require('otel-blackbox');

// The database from DATABASE_URL (else node-postgres's PG* variables), the schema from
// OTEL_BLACKBOX_SCHEMA (else 'otel'), the journal in OTEL_BLACKBOX_JOURNAL_DIR (else
// .otel-journal): read by the library itself, where an empty value counts as unset and a
// bad one is said through diag and ignored. Passed in code, either would be refused, and
// the application would not start.
const exporter = new PostgresSpanExporter();

const spanProcessor = new JournalSpanProcessor({ exporter });
const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME || 'example-service',
  spanProcessors: [spanProcessor],
  // Log records (logger.emit(); pino or bunyan lines once their instrumentation is added
  // to `instrumentations` below, see the README's Logs section) go through the same
  // journal and are committed with their spans.
  logRecordProcessors: [new JournalLogRecordProcessor({ spanProcessor })],
  // The exporter's own queries run with tracing suppressed: pg instrumentation does not
  // trace them, so telemetry never feeds back into itself.
  // Left unset, NodeSDK would also start an OTLP metric exporter (OTEL_METRICS_EXPORTER
  // defaults to otlp), and its shutdown would wait on a collector that may not exist.
  metricReaders: [],
  instrumentations: [new HttpInstrumentation(), new PgInstrumentation()],
});
sdk.start();

// A clean stop flushes every ended span to PostgreSQL.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    sdk.shutdown().finally(() => process.exit(0));
  });
}
module.exports = { sdk };
