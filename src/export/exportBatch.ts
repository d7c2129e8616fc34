// One exporter.export() call as a promise that always settles: a throw, a FAILED result,
// a callback that never comes (past exportTimeoutMillis) and an aborted stop signal all
// count as failure. The export runs with tracing suppressed so instrumented clients do not
// trace the exporter. An aborted signal means export() is not called at all: a stopping
// processor may already have shut its exporter down, and the SpanExporter contract forbids
// export() after shutdown().
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '../logRecordTypes.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { enterGate, gateOf } from './exportGate.js';
import type { SpansAndLogs, SpansAndLogsExporter } from './SpansAndLogs.js';

export type ExportOutcome =
  | { ok: true }
  /**
   * `late`, when the call timed out: its result after all, true for a SUCCESS that came
   * within one more timeout (then the batch is delivered, and must not be sent again).
   */
  | { ok: false; error: Error; aborted: boolean; late?: Promise<boolean> };

export function exportBatch(
  exporter: SpanExporter,
  spans: ReadableSpan[],
  timeoutMillis: number,
  signal?: AbortSignal,
): Promise<ExportOutcome> {
  return exportCall(`${spans.length} spans`, exporter.export, exporter, spans, timeoutMillis, signal);
}

/** One logExporter.export() call, as exportBatch() makes one of a span exporter. */
export function exportLogRecords(exporter: LogRecordExporter, records: ReadableLogRecord[], timeoutMillis: number, signal?: AbortSignal): Promise<ExportOutcome> {
  return exportCall(`${records.length} log records`, exporter.export, exporter, records, timeoutMillis, signal);
}

/** One exportBatch() call of an exporter that takes log records with the spans; `count` spans. */
export function exportSpansAndLogs(
  exporter: SpansAndLogsExporter,
  batch: SpansAndLogs,
  count: number,
  timeoutMillis: number,
  signal?: AbortSignal,
): Promise<ExportOutcome> {
  return exportCall(`${count} spans`, exporter.exportBatch, exporter, batch, timeoutMillis, signal);
}

/**
 * `what`: the batch as said in errors ('4 spans'). The call waits for its turn where the
 * exporter takes one at a time (exportGate.ts); its timeout runs from when it is made.
 */
function exportCall<T>(
  what: string,
  call: (batch: T, resultCallback: (result: ExportResult) => void) => void,
  exporter: object,
  batch: T,
  timeoutMillis: number,
  signal: AbortSignal | undefined,
): Promise<ExportOutcome> {
  if (signal?.aborted) return Promise.resolve({ ok: false, error: abortError(what), aborted: true });
  // Only until it is made: nothing that outlives the call refers to the batch (callExporter).
  const make = () => callExporter(what, call, exporter, batch, timeoutMillis, signal);
  // PostgresSpanExporter has no gate: called in this turn, as the turn budget expects.
  const gate = gateOf(exporter);
  if (gate === undefined) return make();
  return enterGate(gate, signal).then((leave) => {
    if (leave === undefined || signal?.aborted) {
      leave?.();
      return { ok: false, error: abortError(what), aborted: true };
    }
    const outcome = make();
    void outcome.then(leave);
    return outcome;
  });
}

function callExporter<T>(
  what: string,
  call: (batch: T, resultCallback: (result: ExportResult) => void) => void,
  exporter: object,
  batch: T,
  timeoutMillis: number,
  signal: AbortSignal | undefined,
): Promise<ExportOutcome> {
  // No closure here refers to the batch: one that did would keep it alive (through the
  // timer, the abort listener) while the exporter waits on its database, so the exporter
  // could not let go of spans it has already turned into rows (see JournalBatch).
  const { outcome, settle, lateResult } = settledOnce(what, timeoutMillis, signal);
  const done = (result: ExportResult): void => {
    lateResult(result.code === ExportResultCode.SUCCESS);
    if (result.code === ExportResultCode.SUCCESS) settle({ ok: true });
    else settle({ ok: false, error: result.error ?? new Error('exporter reported FAILED'), aborted: false });
  };
  try {
    context.with(suppressTracing(context.active()), call, exporter, batch, done);
  } catch (error) {
    settle({ ok: false, error: error instanceof Error ? error : new Error(String(error)), aborted: false });
  }
  return outcome;
}

/**
 * How long at least a late result is awaited. One more timeout alone was 10 ms behind an
 * exportTimeoutMillis of 10 (a misconfiguration): a commit took longer, every batch was
 * sent again, committed each time and never counted, and export stood still.
 */
const LATE_RESULT_FLOOR_MILLIS = 5_000;

/**
 * An outcome settled by the first of: `settle`, the timeout, the abort signal. Timed out,
 * the outcome carries `late`: the call's result should it come within one more timeout (at
 * least LATE_RESULT_FLOOR_MILLIS; `lateResult`), else false. A SUCCESS after the timeout used to be ignored, and the batch
 * sent again while the first call still ran: behind an exporter a little slower than the
 * timeout every span was delivered over and over.
 */
function settledOnce(what: string, timeoutMillis: number, signal: AbortSignal | undefined) {
  let resolve!: (outcome: ExportOutcome) => void;
  const outcome = new Promise<ExportOutcome>((r) => (resolve = r));
  let settled = false;
  let resolveLate: ((success: boolean) => void) | undefined;
  const settle = (result: ExportOutcome): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    resolve(result);
  };
  const lateResult = (success: boolean): void => {
    const late = resolveLate;
    resolveLate = undefined;
    late?.(success);
  };
  const onAbort = (): void => {
    lateResult(false);
    settle({ ok: false, error: abortError(what), aborted: true });
  };
  const timer = setTimeout(() => {
    const late = new Promise<boolean>((r) => (resolveLate = r));
    const waitedOut = setTimeout(() => lateResult(false), Math.max(timeoutMillis, LATE_RESULT_FLOOR_MILLIS));
    waitedOut.unref();
    void late.then(() => clearTimeout(waitedOut));
    settle({ ok: false, error: new Error(`export of ${what} timed out after ${timeoutMillis} ms`), aborted: false, late });
  }, timeoutMillis);
  timer.unref();
  signal?.addEventListener('abort', onAbort, { once: true });
  return { outcome, settle, lateResult };
}

function abortError(what: string): Error {
  return new Error(`export of ${what} abandoned: the exporter is stopping`);
}
