// One export of a batch that may carry log records. Behind an exporter that takes log
// records with spans (PostgresSpanExporter.exportBatch) they go in one call, with a
// 'started' row for each still-open span they belong to, so the log rows and their span
// rows commit together. Behind any other SpanExporter the spans go to it and the log
// records to the processor's logExporter; the batch counts as exported once both have
// succeeded, and a retry sends only what was not accepted (DeliveredParts): spans that
// went through are not sent again because the log exporter failed.
import { safeDiag } from '../safeDiag.js';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SPAN_STATE } from '../spanMarkers.js';
import { exportBatch, exportSpansAndLogs, type ExportOutcome } from './exportBatch.js';
import { exportsLogs, type KeyedLogRecord } from './SpansAndLogs.js';

/** What of one batch an exporter other than ours has accepted, across its attempts. */
export interface DeliveredParts {
  spans: boolean;
}

export interface LogsOfBatch {
  logs: KeyedLogRecord[];
  /** Open spans the log records belong to, as they were at start. */
  openSpans: ReadableSpan[];
}

/**
 * `spans` makes the batch's spans (`count` of them). An exporter that says it takes such a
 * function (`takesSpanMaker`) is handed the function itself, so it can let go of the spans
 * once they are rows and make them again should it need them (SpansAndLogs); any other
 * gets them made once.
 */
export function exportWithLogs(
  exporter: SpanExporter,
  logExporter: LogRecordExporter | undefined,
  spans: () => ReadableSpan[],
  count: number,
  batchLogs: LogsOfBatch | undefined,
  timeoutMillis: number,
  signal?: AbortSignal,
  delivered?: DeliveredParts,
): Promise<ExportOutcome> {
  const logs = batchLogs?.logs ?? [];
  if (exportsLogs(exporter)) {
    const started = logs.length === 0 ? [] : (batchLogs?.openSpans ?? []).map(asStarted);
    const made = started.length === 0 ? spans : () => [...spans(), ...started];
    const batch = { spans: exporter.takesSpanMaker === true ? made : made(), logs };
    return exportSpansAndLogs(exporter, batch, count + started.length, timeoutMillis, signal);
  }
  return exportBatch(withLogs(exporter, logExporter, logs, delivered), delivered?.spans === true ? [] : spans(), timeoutMillis, signal);
}

/**
 * A SpanExporter that sends `logs` along with the spans of each export() call: in one
 * call to an exporter that takes both, else the spans first and then the log records to
 * `logExporter` (failing if either fails). Also used by recovery.
 */
export function withLogs(exporter: SpanExporter, logExporter: LogRecordExporter | undefined, logs: KeyedLogRecord[], delivered?: DeliveredParts): SpanExporter {
  if (logs.length === 0) return exporter;
  if (exportsLogs(exporter)) {
    return {
      export: (spans, resultCallback) => exporter.exportBatch({ spans, logs }, resultCallback),
      shutdown: () => exporter.shutdown(),
    };
  }
  const records = logs.map((log) => log.logRecord);
  const exportLogs = (resultCallback: (result: ExportResult) => void): void => {
    if (logExporter !== undefined) {
      // Often called from the span exporter's callback (a timer, a promise), outside the
      // guard around export(): a throw here would reach the host as an uncaught exception.
      try {
        logExporter.export(records, resultCallback);
      } catch (error) {
        resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      }
      return;
    }
    // Only recovery gets here (JournalLogRecordProcessor refuses a span processor that could
    // not export log records): a dead journal holding log records, recovered with a span
    // exporter that cannot store them and no logExporter. Failing would hold its spans back
    // for ever; the records are dropped, and said so with their count.
    safeDiag.error(
      `otel-blackbox: ${records.length} log records from a recovered journal are dropped: the exporter cannot store log records ` +
        'and no logExporter was given (pass one to recoverJournals, or recover with PostgresSpanExporter)',
    );
    resultCallback({ code: ExportResultCode.SUCCESS });
  };
  return {
    export: (spans, resultCallback) => {
      if (spans.length === 0) {
        exportLogs(resultCallback);
        return;
      }
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) return resultCallback(result);
        // Accepted, even late: a retry after a failure of the log records sends them alone.
        if (delivered !== undefined) delivered.spans = true;
        exportLogs(resultCallback);
      });
    },
    shutdown: () => exporter.shutdown(),
  };
}

/** The span as its `'started'` row: marked, and not ended. */
export function asStarted(span: ReadableSpan): ReadableSpan {
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
    // Copied with droppedEventsCount, at once: rows are made later, and an event added
    // meanwhile at the SDK's eventCountLimit shifts the live array (the stored indexes
    // then no longer match droppedEventsCount's word that none moved).
    events: span.events.slice(),
    duration: [0, 0],
    ended: false,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}
