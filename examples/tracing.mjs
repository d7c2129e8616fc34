// ESM twin of tracing.cjs:  node --import ./examples/tracing.mjs app.mjs
import { register } from 'node:module';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } from 'otel-blackbox';

// Modules loaded with import (node:http, pg) are instrumented through OpenTelemetry's loader
// hook, registered here, before the application's modules load. Without it an ESM
// application gets no http or pg spans, and nothing says so; its own spans still arrive.
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

// The database from DATABASE_URL (else node-postgres's PG* variables), the schema from
// OTEL_BLACKBOX_SCHEMA (else 'otel'), the journal in OTEL_BLACKBOX_JOURNAL_DIR (else
// .otel-journal): read by the library itself, where an empty value counts as unset and a
// bad one is said through diag and ignored. Passed in code, either would be refused, and
// the application would not start.
const exporter = new PostgresSpanExporter();

const spanProcessor = new JournalSpanProcessor({ exporter });
export const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME || 'example-service',
  spanProcessors: [spanProcessor],
  // Log records (logger.emit(); pino lines once its instrumentation is added to
  // `instrumentations` below, see the README's Logs section) go through the same journal
  // and are committed with their spans.
  logRecordProcessors: [new JournalLogRecordProcessor({ spanProcessor })],
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
