// Attributes this library puts on the spans it synthesises (crash records, the journal
// overflow marker). They travel as ordinary span attributes so any exporter — OTLP,
// console, ours — carries them; PostgresSpanExporter also lifts them into columns.

/** `'crashed'` on a crash record; absent on ordinary spans (which are `'ended'`). */
export const ATTR_SPAN_STATE = 'otel_blackbox.state';
/** Why a crash record's process died: the uncaught error, the exit code, or silence. */
export const ATTR_CRASH_REASON = 'otel_blackbox.crash.reason';
/** `true` when the end time is an estimate: the writer's last sign of life. */
export const ATTR_END_TIME_ESTIMATED = 'otel_blackbox.end_time.estimated';
/** Number of spans that were not journaled because the journal hit its byte cap. */
export const ATTR_DROPPED_SPANS = 'otel_blackbox.dropped_spans';
/** On the overflow marker: log records that could not be journaled in the same episode. */
export const ATTR_DROPPED_LOG_RECORDS = 'otel_blackbox.dropped_log_records';

/** On a span whose journal record was cut to fit one frame (64 MiB): how many values were shortened or left out. */
export { ATTR_TRUNCATED } from './journal/recordCap.js';

/** Name of the synthetic span that makes journal overflow visible in the database. */
export const OVERFLOW_SPAN_NAME = 'otel_blackbox.journal_overflow';

export type SpanState = 'ended' | 'crashed' | 'started';

/** What a span this library synthesised is, as PostgresSpanExporter stores it. */
export interface SynthesisedState {
  state: 'crashed' | 'started';
  crashReason?: string;
  endTimeEstimated?: boolean;
}

/**
 * How PostgresSpanExporter tells a span this library synthesised (a crash record, a
 * 'started' row) from the application's: a symbol-keyed property no attribute can set.
 * The attributes above say the same to every exporter, but an application can set them
 * too (copying another span's attributes, replaying OTLP data): taken for the row's
 * columns, they made an ended span 'started' for good, or a crash in `otel-blackbox
 * crashes`. Symbol.for: one symbol for our ESM and CommonJS builds. Enumerable: a copy
 * made by spreading the span keeps it.
 */
const SYNTHESISED = Symbol.for('otel-blackbox.synthesised');

export function markSynthesised<T extends object>(span: T, state: SynthesisedState): T {
  (span as Record<symbol, unknown>)[SYNTHESISED] = state;
  return span;
}

/** undefined for a span the application made. */
export function synthesisedState(span: object): SynthesisedState | undefined {
  const state = (span as Record<symbol, unknown>)[SYNTHESISED];
  return typeof state === 'object' && state !== null ? (state as SynthesisedState) : undefined;
}
