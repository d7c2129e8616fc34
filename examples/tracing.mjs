// ESM twin of tracing.cjs:  node --import ./examples/tracing.mjs app.mjs
// (Auto-instrumentation of ESM modules also needs OpenTelemetry's loader hook; see the
// @opentelemetry/instrumentation README. Manual spans work without it.)
import { NodeSDK } from '@opentelemetry/sdk-node';
import { JournalSpanProcessor, PostgresSpanExporter } from 'otel-blackbox';

// The database from DATABASE_URL (else node-postgres's PG* variables), the schema from
// OTEL_BLACKBOX_SCHEMA (else 'otel'), the journal in OTEL_BLACKBOX_JOURNAL_DIR (else
// .otel-journal): read by the library itself, where an empty value counts as unset and a
// bad one is said through diag and ignored. Passed in code, either would be refused, and
// the application would not start.
const exporter = new PostgresSpanExporter();

export const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME || 'example-service',
  spanProcessors: [new JournalSpanProcessor({ exporter })],
  // Traces only. Left unset, NodeSDK would also start OTLP metric and log exporters
  // (OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER default to otlp), and its shutdown would
  // wait on a collector that may not exist.
  metricReaders: [],
  logRecordProcessors: [],
});
sdk.start();
