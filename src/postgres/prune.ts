// Retention: removes what is older than a cutoff, in short transactions, so a schema that
// takes every span of every process does not grow for ever and the exporters writing to it
// meanwhile are never held up for long.
// - A trace goes whole, once everything in it is older than the cutoff (its latest end, or
//   its start while it has none): its row, its spans, their events and log records. One
//   statement per batch of traces, oldest first. Trace rows are locked with SKIP LOCKED: an
//   exporter writing into a trace locks its row first (writeRows.ts: traces before spans
//   and logs), so a trace being written is passed over, never waited for, and no exporter
//   can lock a span or log row of a trace this holds.
// - Log records outside any span, and dead letters, go by their own time, in batches too.
// The traces' deletes reach their rows through indexes: traces by start_time, their spans
// by the primary key, their events and log records by logs_event_key and logs_span_idx
// (each partial: the kind is named). No index finds log records outside spans by time
// cheaply with a LIMIT (the BRIN index on time serves a scan of all of them, not the first
// thousand), so those are found in one pass over the table per run (batchDeleteSql).
// A crash record recovered later for a trace already removed stores that span again alone.
import type pg from 'pg';
import { quoteSchema, type QuotedSchema } from './schemaName.js';

/** Traces (or rows outside traces) per statement: a few milliseconds of locks each. */
export const PRUNE_BATCH = 1000;

export interface PruneOptions {
  /** Removed: traces, log records and dead letters older than this. */
  olderThan: Date;
  /** Traces, or rows of the other kinds, per statement. Default PRUNE_BATCH. */
  batch?: number;
  /** Counts what would go, and removes nothing. */
  dryRun?: boolean;
}

export interface PruneReport {
  traces: number;
  spans: number;
  spanEvents: number;
  logRecords: number;
  logRecordsOutsideSpans: number;
  deadLetters: number;
}

const CUTOFF = (s: QuotedSchema) => `FROM ${s}.traces WHERE start_time < $1 AND COALESCE(end_time, start_time) < $1`;

function tracesSql(s: QuotedSchema): string {
  return `WITH doomed AS (
  SELECT trace_id ${CUTOFF(s)} ORDER BY start_time LIMIT $2 FOR UPDATE SKIP LOCKED
), events AS (
  DELETE FROM ${s}.logs WHERE kind = 'event' AND trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
), records AS (
  DELETE FROM ${s}.logs WHERE kind = 'log' AND trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
), spans AS (
  DELETE FROM ${s}.spans WHERE trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
), traces AS (
  DELETE FROM ${s}.traces WHERE trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*) FROM traces)::int AS traces, (SELECT count(*) FROM spans)::int AS spans,
       (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM records)::int AS records`;
}

const OUTSIDE_SPANS = (s: QuotedSchema) => `FROM ${s}.logs WHERE kind = 'log' AND trace_id IS NULL AND time < $1`;
const DEAD_LETTERS = (s: QuotedSchema) => `FROM ${s}.dead_letters WHERE last_seen_at < $1`;

/**
 * Deletes up to $2 rows of `from` (a FROM ... WHERE on $1) after the row position $3: the
 * table is read once per run, front to back, in pieces. Without the position each batch
 * read again from the front, past every row already found (and, until a vacuum, already
 * deleted). Needs PostgreSQL 14 for a TID range scan; older versions read from the front.
 */
function batchDeleteSql(table: string, from: string): string {
  return `WITH gone AS (DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid ${from} AND ctid > $3::tid LIMIT $2)) RETURNING ctid)
SELECT ctid::text AS at FROM gone`;
}

/** `(page,item)` as numbers, to find the furthest row a batch deleted. */
function tidOrder(text: string): [number, number] {
  const [page, item] = text.slice(1, -1).split(',').map(Number);
  return [page!, item!];
}

function laterTid(a: string, b: string): string {
  const [pa, ia] = tidOrder(a);
  const [pb, ib] = tidOrder(b);
  return pa > pb || (pa === pb && ia > ib) ? a : b;
}

export async function pruneSchema(pool: pg.Pool, schemaName: string, options: PruneOptions): Promise<PruneReport> {
  const s = quoteSchema(schemaName);
  const batch = options.batch ?? PRUNE_BATCH;
  const cutoff = options.olderThan;
  if (options.dryRun) return countOlder(pool, s, cutoff);
  const report: PruneReport = { traces: 0, spans: 0, spanEvents: 0, logRecords: 0, logRecordsOutsideSpans: 0, deadLetters: 0 };
  for (;;) {
    const { rows } = await pool.query<{ traces: number; spans: number; events: number; records: number }>(tracesSql(s), [cutoff, batch]);
    const done = rows[0]!;
    report.traces += done.traces;
    report.spans += done.spans;
    report.spanEvents += done.events;
    report.logRecords += done.records;
    // Fewer than asked: the rest are being written now (skipped), or there are none.
    if (done.traces < batch) break;
  }
  report.logRecordsOutsideSpans = await deleteInBatches(pool, batchDeleteSql(`${s}.logs`, OUTSIDE_SPANS(s)), cutoff, batch);
  report.deadLetters = await deleteInBatches(pool, batchDeleteSql(`${s}.dead_letters`, DEAD_LETTERS(s)), cutoff, batch);
  return report;
}

async function deleteInBatches(pool: pg.Pool, sql: string, cutoff: Date, batch: number): Promise<number> {
  let total = 0;
  let after = '(0,0)';
  for (;;) {
    const { rows } = await pool.query<{ at: string }>(sql, [cutoff, batch, after]);
    total += rows.length;
    if (rows.length < batch) return total;
    after = rows.reduce((furthest, row) => laterTid(furthest, row.at), after);
  }
}

async function countOlder(pool: pg.Pool, s: QuotedSchema, cutoff: Date): Promise<PruneReport> {
  const { rows } = await pool.query<{ traces: number; spans: number; events: number; records: number; outside: number; dead: number }>(
    `WITH doomed AS (SELECT trace_id ${CUTOFF(s)})
     SELECT (SELECT count(*) FROM doomed)::int AS traces,
            (SELECT count(*) FROM ${s}.spans WHERE trace_id IN (SELECT trace_id FROM doomed))::int AS spans,
            (SELECT count(*) FROM ${s}.logs WHERE kind = 'event' AND trace_id IN (SELECT trace_id FROM doomed))::int AS events,
            (SELECT count(*) FROM ${s}.logs WHERE kind = 'log' AND trace_id IN (SELECT trace_id FROM doomed))::int AS records,
            (SELECT count(*) ${OUTSIDE_SPANS(s)})::int AS outside,
            (SELECT count(*) ${DEAD_LETTERS(s)})::int AS dead`,
    [cutoff],
  );
  const r = rows[0]!;
  return { traces: r.traces, spans: r.spans, spanEvents: r.events, logRecords: r.records, logRecordsOutsideSpans: r.outside, deadLetters: r.dead };
}
