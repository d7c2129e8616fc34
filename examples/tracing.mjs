// ESM twin of tracing.cjs:  node --import ./examples/tracing.mjs app.mjs
// (Auto-instrumentation of ESM modules also needs OpenTelemetry's loader hook; see the
// @opentelemetry/instrumentation README. Manual spans work without it.)
import { NodeSDK } from '@opentelemetry/sdk-node';
import { JournalSpanProcessor, PostgresSpanExporter } from 'otel-blackbox';

const exporter = new PostgresSpanExporter({
  connectionString: process.env.DATABASE_URL,
  schema: process.env.OTEL_BLACKBOX_SCHEMA,
});

export const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME || 'example-service',
  spanProcessors: [new JournalSpanProcessor({ exporter, journalDir: process.env.OTEL_BLACKBOX_JOURNAL_DIR || '.otel-journal' })],
  // Traces only. Left unset, NodeSDK would also start OTLP metric and log exporters
  // (OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER default to otlp), and its shutdown would
  // wait on a collector that may not exist.
  metricReaders: [],
  logRecordProcessors: [],
});
sdk.start();
