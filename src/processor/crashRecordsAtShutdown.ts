// Spans still open when the processor shuts down never reach onEnd here: this process will
// not record their end. Their crash records used to wait in the journal for a later
// process's recovery: never, when the journal directory goes with the process (a
// Kubernetes emptyDir, a container's own file system), and a 'started' row
// (pendingSpanMillis) then read as running for good. So the processor exports them itself,
// once the export loop has drained what was written before and while it still runs (an END
// that comes meanwhile is exported after, and in PostgreSQL replaces the crash record:
// ended > crashed; an exporter that names no destination, OTLP say, cannot replace one
// record with another, and gets the crash record alone: crashRecordStands),
// and the journal lets go of each span a committed batch carried: nothing is left for a
// recovery to write again, and the journal is removed as a finished one is. What could not
// be exported before the stop deadline stays open in the journal, and recovery writes it,
// as before; a span whose START the journal never took (at its cap, or broken) is counted
// as dropped.
import { SpanStatusCode, type HrTime } from '@opentelemetry/api';
import { hrTimeDuration, millisToHrTime } from '@opentelemetry/core';
import type { LogRecordExporter } from '../logRecordTypes.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { Delivery, exportWithLogs, type DeadLetters } from '../export/exportWithLogs.js';
import { retryWithBackoff } from '../export/exportWithRetry.js';
import { spanAs } from '../export/spanAs.js';
import type { Journal } from '../journal/Journal.js';
import { crashAttributes, laterTime, SHUT_DOWN_WHILE_OPEN } from '../recovery/crashRecords.js';
import { safeDiag } from '../safeDiag.js';

export interface CrashRecordsAtShutdown {
  journal: Journal;
  exporter: SpanExporter;
  logExporter: LogRecordExporter | undefined;
  deadLetters: DeadLetters;
  maxExportBatchSize: number;
  exportTimeoutMillis: number;
  /** The stop deadline: aborted, no batch starts and the one under way is given up. */
  signal: AbortSignal;
  /** Told of each failed attempt, which is retried until the deadline. */
  onRetry: (error: Error) => void;
  /** false: none is sent (the export did not drain in time, the journal is broken), and what is lost is only counted. */
  send: boolean;
  /**
   * Given when the exporter cannot let a later record of a span replace an earlier one:
   * each span whose crash record is sent goes in (those whose START the journal holds),
   * and the processor sends no END of it after (two spans of one id, with conflicting
   * statuses, at a collector; a review). Should the export fail, recovery writes the
   * crash record from the START.
   */
  crashRecordStands?: WeakSet<ReadableSpan> | undefined;
}

export interface CrashRecordsExported {
  /** Crash records the exporter took and kept (not those it refused for good: dead letters). */
  written: number;
  /** Open spans whose START the journal never took and whose crash record did not go out: lost. */
  lost: number;
}

/** Exports a crash record of each span open now, in batches. */
export async function exportCrashRecordsAtShutdown(options: CrashRecordsAtShutdown): Promise<CrashRecordsExported> {
  const { journal, signal } = options;
  const open = journal.openSpansNow();
  // The moment the process stopped recording them: their estimated end, as recovery's is the last sign of life.
  const stoppedAt = millisToHrTime(Date.now());
  let written = 0;
  let sent = 0;
  for (; options.send && sent < open.length && !signal.aborted; sent += options.maxExportBatchSize) {
    // Ended since the snapshot: their END is journaled, and the export loop sends it.
    const entries = open.slice(sent, sent + options.maxExportBatchSize).filter(({ span }) => span.ended !== true);
    if (entries.length === 0) continue;
    const spans = entries.map(({ span }) => span);
    for (const { span, journaled } of entries) if (journaled) options.crashRecordStands?.add(span);
    const records = spans.map((span) => crashRecordAtShutdown(span, stoppedAt, journal.writerId));
    const delivery = new Delivery(options.deadLetters);
    const outcome = await retryWithBackoff(
      () => exportWithLogs(options.exporter, options.logExporter, () => records, records.length, undefined, options.exportTimeoutMillis, signal, delivery),
      { signal, onRetry: options.onRetry },
    );
    if (!outcome.ok) break;
    for (const span of spans) journal.endedElsewhere(span);
    written += records.length - delivery.spans.deadLettered - delivery.refusedByExporter.spanPositions.length;
  }
  // An END held back for its crash record (crashRecordStands) leaves its span open in the journal.
  const left = open.slice(sent).filter(({ span }) => span.ended !== true || options.crashRecordStands?.has(span) === true);
  const lost = left.filter(({ journaled }) => !journaled).length;
  if (left.length > lost) {
    safeDiag.warn(`otel-blackbox: ${left.length - lost} spans still open at shutdown stay in the journal; their crash records are written when it is recovered`);
  }
  if (lost > 0) {
    safeDiag.warn(`otel-blackbox: ${lost} spans still open at shutdown, whose START the journal could not take, are lost: their crash records could not be exported in time`);
  }
  return { written, lost };
}

/**
 * The span as it is now, ended at `stoppedAt` (an estimate, and marked as one), status
 * ERROR with the reason: its attributes and events so far, not only what its START held.
 */
export function crashRecordAtShutdown(span: ReadableSpan, stoppedAt: HrTime, writerId: string): ReadableSpan {
  const endTime = laterTime(stoppedAt, span.startTime);
  return spanAs(span, {
    endTime,
    duration: hrTimeDuration(span.startTime, endTime),
    ended: true,
    status: { code: SpanStatusCode.ERROR, message: SHUT_DOWN_WHILE_OPEN },
    attributes: crashAttributes(SHUT_DOWN_WHILE_OPEN, writerId),
  });
}
