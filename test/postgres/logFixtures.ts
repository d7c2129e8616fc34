// Real log records from a real LoggerProvider, captured by an InMemoryLogRecordExporter,
// keyed as the journal keys them (writer id + sequence), for the exporter under test.
import { context, trace, type SpanContext } from '@opentelemetry/api';
import type { LogRecord } from '@opentelemetry/api-logs';
import type { ExportResult } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { KeyedLogRecord, SpansAndLogsExporter } from '../../src/export/SpansAndLogs.js';
import { TEST_RESOURCE } from './spanFixtures.js';

let nextWriter = 0;

/** Emits each record (inside the span of `in` when given) and returns them keyed 0, 1, ... under a fresh writer id. */
export async function logRecords(
  records: { record: LogRecord; in?: SpanContext }[],
  resource: Resource = TEST_RESOURCE,
  loggerOptions?: { schemaUrl?: string; attributes?: Record<string, unknown> },
): Promise<KeyedLogRecord[]> {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memory })] });
  const logger = provider.getLogger('otel-blackbox-test-logs', '0.0.2', loggerOptions as never);
  for (const { record, in: spanContext } of records) {
    const ctx = spanContext === undefined ? context.active() : trace.setSpanContext(context.active(), spanContext);
    logger.emit({ ...record, context: ctx });
  }
  await provider.forceFlush();
  const writerId = `test-writer-${process.pid}-${Date.now()}-${nextWriter++}`;
  const keyed = memory.getFinishedLogRecords().map((logRecord, sequence) => ({ logRecord, writerId, sequence }));
  await provider.shutdown();
  return keyed;
}

export function exportBatch(exporter: SpansAndLogsExporter, spans: ReadableSpan[], logs: KeyedLogRecord[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.exportBatch({ spans, logs }, resolve));
}
