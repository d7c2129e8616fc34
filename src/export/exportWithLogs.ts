// One export of a batch that may carry log records. Behind an exporter that takes log
// records with spans (PostgresSpanExporter.exportBatch) they go in one call, with a
// 'started' row for each still-open span they belong to, so the log rows and their span
// rows commit together. Behind any other SpanExporter the spans go to it and the log
// records to the processor's logExporter; the batch counts as exported once both have
// succeeded (a retry sends both again: at-least-once for such exporters).
import type { ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SPAN_STATE } from '../spanMarkers.js';
import { exportBatch, type ExportOutcome } from './exportBatch.js';
import { exportsLogs, type KeyedLogRecord } from './SpansAndLogs.js';

export interface LogsOfBatch {
  logs: KeyedLogRecord[];
  /** Open spans the log records belong to, as they were at start. */
  openSpans: ReadableSpan[];
}

export async function exportWithLogs(
  exporter: SpanExporter,
  logExporter: LogRecordExporter | undefined,
  spans: ReadableSpan[],
  withLogs: LogsOfBatch | undefined,
  timeoutMillis: number,
): Promise<ExportOutcome> {
  if (withLogs === undefined || withLogs.logs.length === 0) return exportBatch(exporter, spans, timeoutMillis);
  const { logs, openSpans } = withLogs;
  if (exportsLogs(exporter)) {
    const together = [...spans, ...openSpans.map(asStarted)];
    const adapter: SpanExporter = {
      export: (all, resultCallback) => exporter.exportBatch({ spans: all, logs }, resultCallback),
      shutdown: () => exporter.shutdown(),
    };
    return exportBatch(adapter, together, timeoutMillis);
  }
  if (spans.length > 0) {
    const outcome = await exportBatch(exporter, spans, timeoutMillis);
    if (!outcome.ok) return outcome;
  }
  if (logExporter === undefined) return { ok: true };
  const records = logs.map((log) => log.logRecord);
  const adapter: SpanExporter = {
    export: (_spans, resultCallback: (result: ExportResult) => void) => logExporter.export(records, resultCallback),
    shutdown: () => logExporter.shutdown(),
  };
  return exportBatch(adapter, [], timeoutMillis);
}

/** The span as its `'started'` row: marked, and not ended. */
function asStarted(span: ReadableSpan): ReadableSpan {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: [0, 0],
    status: span.status,
    attributes: { ...span.attributes, [ATTR_SPAN_STATE]: 'started' },
    links: span.links,
    events: span.events,
    duration: [0, 0],
    ended: false,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}
