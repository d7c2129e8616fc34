// Attributes this library puts on the spans it synthesises (crash records, the journal
// overflow marker). They travel as ordinary span attributes so any exporter — OTLP,
// console, ours — carries them; PostgresSpanExporter also lifts them into columns.

/** `'crashed'` on a crash record; absent on ordinary spans (which are `'ended'`). */
export const ATTR_SPAN_STATE = 'otel_blackbox.state';
/** Why a crash record's process died: the uncaught error, the exit code, or silence. */
export const ATTR_CRASH_REASON = 'otel_blackbox.crash.reason';
/** `true` when the end time is an estimate: the writer's last sign of life. */
export const ATTR_END_TIME_ESTIMATED = 'otel_blackbox.end_time.estimated';
/**
 * On a crash record: the id of the journal writer that died (one per process, or per
 * worker thread with its own provider). Its log records carry the same id (`logs.writer_id`
 * in PostgreSQL), so what the process logged last, in a span or outside any, can be found.
 */
export const ATTR_WRITER_ID = 'otel_blackbox.writer.id';
/** Number of spans that were not journaled because the journal hit its byte cap. */
export const ATTR_DROPPED_SPANS = 'otel_blackbox.dropped_spans';
/** On the overflow marker: log records that could not be journaled in the same episode. */
export const ATTR_DROPPED_LOG_RECORDS = 'otel_blackbox.dropped_log_records';

/** On a span whose journal record was cut to fit one frame (64 MiB): how many values were shortened or left out. */
export { ATTR_TRUNCATED } from './journal/recordCap.js';

/** Name of the synthetic span that makes journal overflow visible in the database. */
export const OVERFLOW_SPAN_NAME = 'otel_blackbox.journal_overflow';

export type SpanState = 'ended' | 'crashed' | 'started';
