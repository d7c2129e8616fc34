// A batch as the parts BatchDelivery sends. Behind an exporter that takes log records with
// its spans (PostgresSpanExporter) it is one part, sent whole in one call, so a log row and
// the row of its span commit together; that exporter isolates refused records itself.
// Behind any other SpanExporter the spans go to it and the log records to the logExporter,
// as two parts, each sent until accepted and never again after.
import { safeDiag } from '../safeDiag.js';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Acceptances } from './Acceptances.js';
import type { BatchPart } from './BatchDelivery.js';
import { exportBatch, exportLogRecords } from './exportBatch.js';
import { exportWithLogs, type LogsOfBatch } from './exportWithLogs.js';
import { exportsLogs } from './SpansAndLogs.js';

export interface PartsOptions {
  exporter: SpanExporter;
  logExporter: LogRecordExporter | undefined;
  /** Makes the batch's spans (`count` of them, fewer if some turn out unreadable), anew for each call (see JournalBatch). */
  spans: () => ReadableSpan[];
  count: number;
  logs: LogsOfBatch | undefined;
  timeoutMillis: number;
  signal: AbortSignal;
  /** One per exporter, shared by every batch. */
  acceptances: { spans: Acceptances; logs: Acceptances };
}

export function batchParts(options: PartsOptions): BatchPart[] {
  const { exporter, logExporter, spans, count, logs, timeoutMillis, signal, acceptances } = options;
  if (exportsLogs(exporter)) {
    const whole = count + (logs?.logs.length ?? 0);
    return [
      {
        name: 'spans',
        count: whole,
        acceptances: acceptances.spans,
        isolates: false,
        send: (_from, _to, watch) => exportWithLogs(exporter, undefined, spans, count, logs, timeoutMillis, signal, watch),
      },
    ];
  }
  const spanPart: BatchPart = {
    name: 'spans',
    count,
    acceptances: acceptances.spans,
    isolates: true,
    send: async (from, to, watch) => {
      const some = spans().slice(from, to);
      // Only records that turned out unreadable: nothing to send (JournalBatch counts them lost).
      if (some.length === 0) return { ok: true };
      return exportBatch(exporter, some, timeoutMillis, signal, watch);
    },
  };
  const records = logs?.logs ?? [];
  const logPart: BatchPart = {
    name: 'log records',
    count: records.length,
    acceptances: acceptances.logs,
    isolates: true,
    send: async (from, to, watch) => {
      const some = records.slice(from, to).map((log) => log.logRecord);
      if (logExporter !== undefined) return exportLogRecords(logExporter, some, timeoutMillis, signal, watch);
      // JournalLogRecordProcessor refuses a span processor that could not export log
      // records; should one reach here all the same, they are dropped, and said so.
      safeDiag.error(`otel-blackbox: ${some.length} log records are dropped: the exporter cannot store log records and no logExporter was given`);
      return { ok: true };
    },
  };
  return [spanPart, logPart];
}
