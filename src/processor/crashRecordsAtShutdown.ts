// Spans still open when the processor shuts down never reach onEnd here: this process will
// not record their end. Their crash records used to wait in the journal for a later
// process's recovery: never, when the journal directory goes with the process (a
// Kubernetes emptyDir, a container's own file system), and a 'started' row
// (pendingSpanMillis) then read as running for good. So the processor exports them itself,
// once the export loop has drained what was written before and while it still runs (an END
// that comes meanwhile is exported after, and in PostgreSQL replaces the crash record:
// ended > crashed; any other exporter, OTLP say, cannot replace one record with another,
// and gets the crash record alone, unless it was not sent: HeldEnds),
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
  /** Given when the exporter cannot let a later record of a span replace an earlier one (HeldEnds). */
  heldEnds?: HeldEnds | undefined;
  /** Counts the crash records written that stay their span's record. */
  count: ShutdownCrashRecords;
}

/**
 * The crash records written at shutdown that stay their span's record, for
 * stats().crashRecordsWritten. Where the exporter lets a later record replace an earlier
 * one (PostgreSQL), a span that ends while its crash record is on its way or after it was
 * written is stored as ended, and counted once, as exported: counted as a crash record too,
 * 41 spans read as 41 exported and 37 crash records, a false crash for an alert on that
 * count (an accounting review). Elsewhere its END is held (HeldEnds) and never reaches
 * ended().
 */
export class ShutdownCrashRecords {
  count = 0;
  readonly #sending = new WeakSet<ReadableSpan>();
  readonly #written = new WeakSet<ReadableSpan>();
  /** Spans that ended while their crash record was on its way, with their END's number in the journal. */
  readonly #endedFirst = new WeakMap<ReadableSpan, number>();
  /**
   * The journal numbers of the ENDs that replace a crash record written: it gives way to
   * each once that END is committed. One the shutdown's drain left in the journal (written
   * after it began) leaves its crash record standing until a recovery: counted as neither.
   */
  #replacing: number[] = [];

  sending(spans: readonly ReadableSpan[]): void {
    for (const span of spans) this.#sending.add(span);
  }

  written(spans: readonly ReadableSpan[]): void {
    for (const span of spans) {
      const endNumber = this.#endedFirst.get(span);
      if (endNumber !== undefined) {
        this.#replacing.push(endNumber);
        continue;
      }
      this.#written.add(span);
      this.count += 1;
    }
  }

  /**
   * `span` ended: a crash record of it written, or on its way, gives way to its END.
   * `endNumber`: the END's number among the journal's ENDs and LOGs (its recordsWritten
   * then); 0 where the journal did not take it (the memory queue exports it). True when
   * the END is to replace a crash record (the shutdown's drain then takes it too).
   */
  ended(span: ReadableSpan, endNumber: number): boolean {
    if (this.#written.delete(span)) {
      this.count -= 1;
      this.#replacing.push(endNumber);
      return true;
    }
    if (!this.#sending.has(span)) return false;
    this.#endedFirst.set(span, endNumber);
    return true;
  }

  /** Shutdown is over, the journal's first `settled` ENDs and LOGs committed: a crash record whose END is past them stands. */
  settle(settled: number): void {
    for (const endNumber of this.#replacing) if (endNumber > settled) this.count += 1;
    this.#replacing = [];
  }
}

/**
 * The ENDs of spans whose crash record is on its way, for an exporter that cannot let a
 * later record of a span replace an earlier one: sent after the crash record, the END made
 * two spans of one id, with conflicting statuses, at a collector (a review). Held while the
 * crash record is on its way, an END is dropped once it is sent (the crash record stands,
 * and later ENDs are dropped too); should it not be sent, the ENDs held go the usual way
 * (`replay`): dropped then, a span that ended cleanly was recovered as crashed (a review).
 */
export class HeldEnds {
  readonly #replay: (span: ReadableSpan) => void;
  /** Spans whose crash record is on its way or sent. */
  readonly #sending = new WeakSet<ReadableSpan>();
  /** Of those on their way, the ones that ended meanwhile. */
  readonly #held = new Set<ReadableSpan>();

  constructor(replay: (span: ReadableSpan) => void) {
    this.#replay = replay;
  }

  /** For onEnd: true when the span's END is held or dropped here. */
  holds(span: ReadableSpan): boolean {
    if (!this.#sending.has(span)) return false;
    this.#held.add(span);
    return true;
  }

  sending(spans: readonly ReadableSpan[]): void {
    for (const span of spans) this.#sending.add(span);
  }

  sent(spans: readonly ReadableSpan[]): void {
    for (const span of spans) this.#held.delete(span);
  }

  notSent(spans: readonly ReadableSpan[]): void {
    for (const span of spans) {
      this.#sending.delete(span);
      if (this.#held.delete(span)) this.#replay(span);
    }
  }
}

export interface CrashRecordsExported {
  /** Open spans whose START the journal never took and whose crash record did not go out: lost. */
  lost: number;
  /** Crash records the exporter refused for good and kept in a store of its own (RefusedRecords). */
  deadLetteredByExporter: number;
}

/** Exports a crash record of each span open now, in batches. */
export async function exportCrashRecordsAtShutdown(options: CrashRecordsAtShutdown): Promise<CrashRecordsExported> {
  const { journal, signal } = options;
  const open = journal.openSpansNow();
  // The moment the process stopped recording them: their estimated end, as recovery's is the last sign of life.
  const stoppedAt = millisToHrTime(Date.now());
  let sent = 0;
  let deadLetteredByExporter = 0;
  for (; options.send && sent < open.length && !signal.aborted; sent += options.maxExportBatchSize) {
    // Ended since the snapshot: their END is journaled, and the export loop sends it.
    const spans = open.slice(sent, sent + options.maxExportBatchSize).map(({ span }) => span).filter((span) => span.ended !== true);
    if (spans.length === 0) continue;
    options.heldEnds?.sending(spans);
    options.count.sending(spans);
    const records = spans.map((span) => crashRecordAtShutdown(span, stoppedAt, journal.writerId));
    const delivery = new Delivery(options.deadLetters);
    const outcome = await retryWithBackoff(
      () => exportWithLogs(options.exporter, options.logExporter, () => records, records.length, undefined, options.exportTimeoutMillis, signal, delivery),
      { signal, onRetry: options.onRetry },
    );
    if (!outcome.ok) {
      options.heldEnds?.notSent(spans);
      break;
    }
    // A crash record the exporter refused for good (dead-lettered) is not the span's record:
    // an END held for it goes after all.
    const { refused, accepted, stands } = byRefusal(spans, delivery);
    deadLetteredByExporter += delivery.refusedByExporter.count;
    options.heldEnds?.notSent(refused);
    options.heldEnds?.sent(accepted);
    options.count.written(stands);
    for (const span of spans) journal.endedElsewhere(span);
  }
  // ENDs held for crash records not sent have gone the usual way (HeldEnds.notSent).
  const left = open.slice(sent).filter(({ span }) => span.ended !== true);
  const lost = left.filter(({ journaled }) => !journaled).length;
  if (left.length > lost) {
    safeDiag.warn(`otel-blackbox: ${left.length - lost} spans still open at shutdown stay in the journal; their crash records are written when it is recovered`);
  }
  if (lost > 0) {
    safeDiag.warn(`otel-blackbox: ${lost} spans still open at shutdown, whose START the journal could not take, are lost: their crash records could not be exported in time`);
  }
  return { lost, deadLetteredByExporter };
}

/**
 * The batch's crash records split once: those the exporter refused for good, those it took,
 * and of these the ones that stay their span's record (not dead-lettered on the way).
 */
function byRefusal(spans: readonly ReadableSpan[], delivery: Delivery): { refused: ReadableSpan[]; accepted: ReadableSpan[]; stands: ReadableSpan[] } {
  const refusedAt = new Set(delivery.refusedByExporter.spanPositions);
  const deadLetteredAt = new Set(delivery.spans.deadLetteredAt);
  const refused: ReadableSpan[] = [];
  const accepted: ReadableSpan[] = [];
  const stands: ReadableSpan[] = [];
  spans.forEach((span, position) => {
    if (refusedAt.has(position)) return void refused.push(span);
    accepted.push(span);
    if (!deadLetteredAt.has(position)) stands.push(span);
  });
  return { refused, accepted, stands };
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
