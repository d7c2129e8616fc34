// One export of a batch that may carry log records. Behind an exporter that takes log
// records with spans (PostgresSpanExporter.exportBatch) they go in one call, with a
// 'started' row for each still-open span they belong to, so the log rows and their span
// rows commit together. Behind any other SpanExporter the spans go to it and the log
// records to the processor's logExporter; the batch counts as exported once both have
// taken their part, and a retry sends only what was not taken (Delivery): spans that went
// through are not sent again because the log exporter failed. Either may refuse records
// for good (an OTLP 400 or 413): those are isolated and dead-lettered, and the rest go
// through (deliverIsolatingRefusals.ts).
import { safeDiag } from '../safeDiag.js';
import type { LogRecordExporter } from '../logRecordTypes.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SPAN_STATE } from '../spanMarkers.js';
import { deliverIsolatingRefusals, DeliveryProgress, ReceiverCalls } from './deliverIsolatingRefusals.js';
import { exportBatch, exportLogRecords, exportSpansAndLogs, type ExportOutcome } from './exportBatch.js';
import { spanAs } from './spanAs.js';
import { exportsLogs, RefusedRecords, type KeyedLogRecord } from './SpansAndLogs.js';

/**
 * Where records an exporter refused for good go (DeadLetterFile). Each rejects when it could
 * not keep the record for now (a disk error): the record then stays in the journal.
 */
export interface DeadLetters {
  span(span: ReadableSpan, reason: string, error: Error): Promise<void>;
  log(log: KeyedLogRecord, reason: string, error: Error): Promise<void>;
}

/**
 * What of one batch the exporters other than ours have settled, across its attempts; and
 * what ours (exportBatch) refused and kept in its own dead letters.
 */
export class Delivery {
  readonly spans = new DeliveryProgress();
  readonly logs = new DeliveryProgress();
  readonly refusedByExporter = new RefusedRecords();
  readonly deadLetters: DeadLetters;

  constructor(deadLetters: DeadLetters) {
    this.deadLetters = deadLetters;
  }

  /** Refused records wait for proof (deliverIsolatingRefusals.ts), and nothing else of the batch is pending. */
  get awaitingProof(): boolean {
    // The spans go first: while they are pending, the last attempt ended with them.
    return this.spans.done ? this.logs.awaitingProof : this.spans.awaitingProof;
  }
}

/** For a caller with nowhere to keep them (a test's single export): what is refused for good is said lost. */
export const DEAD_LETTERS_SAID_LOST: DeadLetters = {
  span: async (span, reason) => safeDiag.error(`otel-blackbox: the exporter refused span ${span.spanContext().spanId} for good (${reason}); it is lost`),
  log: async (log, reason) => safeDiag.error(`otel-blackbox: the exporter refused log record ${log.sequence} for good (${reason}); it is lost`),
};

export interface LogsOfBatch {
  logs: KeyedLogRecord[];
  /** Open spans the log records belong to, as they were at start. */
  openSpans: ReadableSpan[];
}

/**
 * `spans` makes the batch's spans (`count` of them), in the same order each time. An
 * exporter that says it takes such a function (`takesSpanMaker`) is handed the function
 * itself, so it can let go of the spans once they are rows and make them again should it
 * need them (SpansAndLogs); any other gets them made once per attempt.
 */
export function exportWithLogs(
  exporter: SpanExporter,
  logExporter: LogRecordExporter | undefined,
  spans: () => ReadableSpan[],
  count: number,
  batchLogs: LogsOfBatch | undefined,
  timeoutMillis: number,
  signal?: AbortSignal,
  delivery: Delivery = new Delivery(DEAD_LETTERS_SAID_LOST),
): Promise<ExportOutcome> {
  const logs = batchLogs?.logs ?? [];
  if (exportsLogs(exporter)) {
    const started = logs.length === 0 ? [] : (batchLogs?.openSpans ?? []).map(asStarted);
    const made = started.length === 0 ? spans : () => [...spans(), ...started];
    const batch = { spans: exporter.takesSpanMaker === true ? made : made(), logs, refused: delivery.refusedByExporter };
    return exportSpansAndLogs(exporter, batch, count + started.length, timeoutMillis, signal);
  }
  return exportToTwo(exporter, logExporter, spans, logs, timeoutMillis, signal, delivery);
}

/** The spans to `exporter`, then the log records to `logExporter`, each part isolating what it refuses for good. */
async function exportToTwo(
  exporter: SpanExporter,
  logExporter: LogRecordExporter | undefined,
  spans: () => ReadableSpan[],
  logs: KeyedLogRecord[],
  timeoutMillis: number,
  signal: AbortSignal | undefined,
  delivery: Delivery,
): Promise<ExportOutcome> {
  const { deadLetters } = delivery;
  if (!delivery.spans.done) {
    const delivered = await deliverIsolatingRefusals(spans(), delivery.spans, {
      send: (part) => exportBatch(exporter, part, timeoutMillis, signal),
      deadLetter: (span, reason, error) => deadLetters.span(span, reason, error),
      calls: ReceiverCalls.of(exporter),
    });
    if (!delivered.ok) {
      // A late success of the spans does not deliver the batch while its log records wait.
      const late = delivered.late?.then((settled) => settled && (logs.length === 0 || delivery.logs.done));
      return late === undefined ? delivered : { ...delivered, late };
    }
  }
  if (logs.length === 0) return { ok: true };
  if (logExporter === undefined) {
    // Only recovery gets here (JournalLogRecordProcessor refuses a span processor that could
    // not export log records): a dead journal holding log records, recovered with a span
    // exporter that cannot store them and no logExporter. Failing would hold its spans back
    // for ever; the records are dropped, and said so with their count.
    if (!delivery.logs.done) {
      delivery.logs.settle(delivery.logs.pending(logs.length));
      safeDiag.error(
        `otel-blackbox: ${logs.length} log records from a recovered journal are dropped: the exporter cannot store log records ` +
          'and no logExporter was given (pass one to recoverJournals, or recover with PostgresSpanExporter)',
      );
    }
    return { ok: true };
  }
  return deliverIsolatingRefusals(logs, delivery.logs, {
    send: (part) => exportLogRecords(logExporter, part.map((log) => log.logRecord), timeoutMillis, signal),
    deadLetter: (log, reason, error) => deadLetters.log(log, reason, error),
    calls: ReceiverCalls.of(logExporter),
  });
}

/** The span as its `'started'` row: marked, and not ended. */
export function asStarted(span: ReadableSpan): ReadableSpan {
  return spanAs(span, { endTime: [0, 0], duration: [0, 0], ended: false, status: span.status, attributes: { [ATTR_SPAN_STATE]: 'started' } });
}
