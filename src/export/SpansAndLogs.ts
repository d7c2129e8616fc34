// How log records travel with spans to an exporter that can commit them together. The
// SpanExporter contract stays as OpenTelemetry defines it; an exporter that also has
// exportBatch() (PostgresSpanExporter) is handed each batch's log records with its spans,
// so a log row and the row of its span land in one transaction.
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/** A log record with the key that makes storing it again (a replay, a second recovery) change nothing. */
export interface KeyedLogRecord {
  logRecord: ReadableLogRecord;
  /** Who recorded it: the journal writer's id. */
  writerId: string;
  /** Its position among that writer's log records; with writerId, unique. */
  sequence: number;
}

export interface SpansAndLogs {
  /**
   * Ended spans, crash records, and `'started'` rows (a span marked with the
   * `otel_blackbox.state` attribute `'started'`) for open spans whose log records are in `logs`.
   * Or, only for an exporter whose `takesSpanMaker` is true, a function that makes them,
   * called each time the exporter needs them (once, and again only for a batch it must
   * write record by record): the exporter then keeps none of them while it waits on its database.
   */
  spans: ReadableSpan[] | (() => ReadableSpan[]);
  logs: KeyedLogRecord[];
  /**
   * Filled in by the exporter when the batch commits: the records it left out, for the
   * caller's counts of what was exported (stats().spansExported) to leave them out too.
   */
  refused?: RefusedRecords;
}

/**
 * Records an exporter left out of a batch it reported a SUCCESS for, having kept them in a
 * dead-letter store of its own (PostgresSpanExporter's dead_letters table). Spans are named
 * by their positions in the batch's spans, as `spans` gives them: the caller knows which of
 * those are its ended spans without making them again. A batch committed again (a retry
 * after a timeout) refuses the same records: the exporter replaces what an earlier commit
 * said (`setTo`), never adds to it. Public members only: the processor and the exporter
 * may come from two copies of this package (its ESM and CommonJS builds), whose private
 * fields do not see each other's instances.
 */
export class RefusedRecords {
  /** Positions of the refused spans, 'started' rows included. */
  readonly spanPositions: number[] = [];
  logRecords = 0;
  /**
   * Spans refused, as the exporter's store counts them: one per span, where a batch may
   * carry a span at two positions (a long-open span's 'started' row, and the one a log
   * record of it brings), made one row. Counted by positions, such a refusal was two.
   */
  spans = 0;

  /** Records refused: a refusal each, as the exporter's dead-letter store counts them. */
  get count(): number {
    return this.spans + this.logRecords;
  }

  setTo(other: { readonly spanPositions: readonly number[]; readonly logRecords: number; readonly spans?: number }): void {
    this.spanPositions.splice(0, this.spanPositions.length, ...other.spanPositions);
    this.logRecords = other.logRecords;
    this.spans = other.spans ?? other.spanPositions.length;
  }
}

export interface SpansAndLogsExporter extends SpanExporter {
  exportBatch(batch: SpansAndLogs, resultCallback: (result: ExportResult) => void): void;
  /** true when exportBatch() takes `spans` as a function that makes them too (SpansAndLogs). */
  readonly takesSpanMaker?: boolean;
}

export function exportsLogs(exporter: SpanExporter): exporter is SpansAndLogsExporter {
  return typeof (exporter as Partial<SpansAndLogsExporter>).exportBatch === 'function';
}

/**
 * Whether `exporter` is PostgresSpanExporter, or one that wraps it and hands it our
 * batches (exportBatch). Such an exporter commits each batch in a transaction of its own
 * over its pool, so it takes batches at once; and a later record of a span replaces an
 * earlier one in its row (an END its crash record). Any other gets one export() call at a
 * time, as the SpanExporter contract promises (an exporter written for the stock
 * processors may rely on it: a file writer interleaves lines), and one record of a span.
 */
export function storesInPostgres(exporter: SpanExporter): boolean {
  return exportsLogs(exporter);
}
