// One export() call as a promise that always settles: with the exporter's result, a throw,
// an aborted stop signal, or a callback that never comes. Past the timeout the call is not
// given up: it is said (`onTimeout`) and its result still awaited, because a SUCCESS that
// comes late is a SUCCESS. Counted as failed at the timeout, the batch was sent again while
// the first call still ran; behind an exporter a little slower than the timeout (300 ms
// against 200) each span was delivered six times in four seconds, for ever, with two calls
// at once under maxConcurrentExports 1 (review, repro 09). Only a call silent for
// LATE_RESULT_FACTOR timeouts is given up, so an exporter that never calls back cannot hold
// a batch for good; should its result come after all, `onLateResult` is told.
//
// The export runs with tracing suppressed so instrumented clients do not trace the
// exporter. An aborted signal means export() is not called at all: a stopping processor may
// already have shut its exporter down, and the SpanExporter contract forbids export() after
// shutdown().
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { SpansAndLogs, SpansAndLogsExporter } from './SpansAndLogs.js';

export type ExportOutcome =
  | { ok: true }
  /** `aborted`: the stop signal ended it; `givenUp`: no result came within LATE_RESULT_FACTOR timeouts. */
  | { ok: false; error: Error; aborted: boolean; givenUp?: boolean };

/** How many export timeouts a call may stay silent before it is given up and its batch sent again. */
export const LATE_RESULT_FACTOR = 10;
/** setTimeout's ceiling (a larger delay fires at once); exportTimeoutMillis may be up to it. */
const MAX_TIMER_MILLIS = 2_147_000_000;

export interface CallWatch {
  /** Told once when the timeout passes without a result; the call is still awaited. */
  onTimeout?: (error: Error) => void;
  /** The result of a call given up after LATE_RESULT_FACTOR timeouts, should it come after all. */
  onLateResult?: (outcome: ExportOutcome) => void;
}

/** How long a call is awaited at most before it is given up. */
export function giveUpAfterMillis(timeoutMillis: number): number {
  return Math.min(timeoutMillis * LATE_RESULT_FACTOR, MAX_TIMER_MILLIS);
}

export function exportBatch(
  exporter: SpanExporter,
  spans: ReadableSpan[],
  timeoutMillis: number,
  signal?: AbortSignal,
  watch?: CallWatch,
): Promise<ExportOutcome> {
  return exportCall(`${spans.length} spans`, exporter.export, exporter, spans, timeoutMillis, signal, watch);
}

/** One exportBatch() call of an exporter that takes log records with the spans; `count` spans. */
export function exportSpansAndLogs(
  exporter: SpansAndLogsExporter,
  batch: SpansAndLogs,
  count: number,
  timeoutMillis: number,
  signal?: AbortSignal,
  watch?: CallWatch,
): Promise<ExportOutcome> {
  return exportCall(`${count} spans`, exporter.exportBatch, exporter, batch, timeoutMillis, signal, watch);
}

/** One logExporter.export() call, with the same guarantees. */
export function exportLogRecords(
  logExporter: LogRecordExporter,
  records: ReadableLogRecord[],
  timeoutMillis: number,
  signal?: AbortSignal,
  watch?: CallWatch,
): Promise<ExportOutcome> {
  return exportCall(`${records.length} log records`, logExporter.export, logExporter, records, timeoutMillis, signal, watch);
}

function exportCall<T>(
  what: string,
  call: (batch: T, resultCallback: (result: ExportResult) => void) => void,
  target: object,
  batch: T,
  timeoutMillis: number,
  signal: AbortSignal | undefined,
  watch: CallWatch | undefined,
): Promise<ExportOutcome> {
  // No closure here refers to the batch: one that did would keep it alive (through the
  // timers, the abort listener) while the exporter waits on its database, so the exporter
  // could not let go of spans it has already turned into rows (see JournalBatch).
  if (signal?.aborted) return Promise.resolve({ ok: false, error: abortError(what), aborted: true });
  const { outcome, settle } = settledOnce(what, timeoutMillis, signal, watch);
  const done = (result: ExportResult): void => {
    if (result.code === ExportResultCode.SUCCESS) settle({ ok: true });
    else settle({ ok: false, error: result.error ?? new Error('exporter reported FAILED'), aborted: false });
  };
  try {
    context.with(suppressTracing(context.active()), call, target, batch, done);
  } catch (error) {
    settle({ ok: false, error: error instanceof Error ? error : new Error(String(error)), aborted: false });
  }
  return outcome;
}

/**
 * An outcome settled by the first of: `settle` (the exporter's result), the give-up bound,
 * the abort signal. A result that comes after the give-up bound goes to `onLateResult`.
 */
function settledOnce(what: string, timeoutMillis: number, signal: AbortSignal | undefined, watch: CallWatch | undefined) {
  let resolve!: (outcome: ExportOutcome) => void;
  const outcome = new Promise<ExportOutcome>((r) => (resolve = r));
  let state: 'waiting' | 'settled' | 'given up' = 'waiting';
  const settle = (result: ExportOutcome, by: 'exporter' | 'bound' | 'abort' = 'exporter'): void => {
    if (state === 'given up' && by === 'exporter') {
      state = 'settled';
      watch?.onLateResult?.(result);
      return;
    }
    if (state !== 'waiting') return;
    state = by === 'bound' ? 'given up' : 'settled';
    clearTimeout(slowTimer);
    clearTimeout(giveUpTimer);
    signal?.removeEventListener('abort', onAbort);
    resolve(result);
  };
  const onAbort = (): void => settle({ ok: false, error: abortError(what), aborted: true }, 'abort');
  const giveUpMillis = giveUpAfterMillis(timeoutMillis);
  const slowTimer = setTimeout(
    () => watch?.onTimeout?.(new Error(`export of ${what} has not called back after ${timeoutMillis} ms (exportTimeoutMillis); its result is awaited up to ${giveUpMillis} ms`)),
    timeoutMillis,
  );
  const giveUpTimer = setTimeout(
    () => {
      const error = new Error(`export of ${what} did not call back within ${giveUpMillis} ms (${LATE_RESULT_FACTOR} × exportTimeoutMillis); it is given up`);
      settle({ ok: false, error, aborted: false, givenUp: true }, 'bound');
    },
    giveUpMillis,
  );
  slowTimer.unref();
  giveUpTimer.unref();
  signal?.addEventListener('abort', onAbort, { once: true });
  return { outcome, settle };
}

function abortError(what: string): Error {
  return new Error(`export of ${what} abandoned: the exporter is stopping`);
}
