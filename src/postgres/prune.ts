// Retention: removes what is older than a cutoff, a batch per transaction, so a schema that
// takes every span of every process does not grow for ever, and exporters writing to it
// meanwhile wait at most for one batch.
// - A trace goes whole once everything in it is older than the cutoff (DOOMED): its row,
//   its spans, their events and log records, a batch of traces per transaction, oldest
//   first. Their rows are locked first, with SKIP LOCKED: an exporter writing into a trace
//   locks its row first (writeRows.ts: traces before spans and logs, stand-ins included),
//   so a trace being written is passed over, and no exporter can add to a trace this holds.
// - Log records outside any span, and dead letters, go by their own time (deleteByPages).
// The traces' deletes reach their rows through indexes: traces by start_time, their spans
// by the primary key, their events and log records by logs_event_key and logs_span_idx
// (each partial: the kind is named).
// A crash record recovered later for a trace already removed stores that span again alone.
import { types } from 'node:util';
import type pg from 'pg';
import { inSampledSpanSql } from './logRows.js';
import { refuseNewerSchema } from './migrate.js';
import { quoteSchema, type QuotedSchema } from './schemaName.js';
import { booleanOption, InvalidOptionError, knownOptionsOnly, positiveInteger, validPool } from '../options/validate.js';

/** Traces per transaction: 50-90 ms of locks for small traces (a review's measurement). */
export const PRUNE_BATCH = 1000;

export interface PruneOptions {
  /** Removed: traces, log records and dead letters older than this. */
  olderThan: Date;
  /** Traces per transaction: lower it for traces of thousands of spans. Default: `1000` (PRUNE_BATCH). */
  batch?: number | undefined;
  /** Counts what would go, and removes nothing. */
  dryRun?: boolean | undefined;
}

/** What was removed (or, with `dryRun`, would be): rows counted per table and kind. */
export interface PruneReport {
  traces: number;
  spans: number;
  spanEvents: number;
  logRecords: number;
  logRecordsOutsideSpans: number;
  deadLetters: number;
}

/**
 * The traces that go: everything stored of them older than $1. Their latest end (or start
 * while none has ended) is not enough: a span still in flight ('started') that began
 * since, an event since, or a log record logged or observed since (log records and spans
 * in flight move no end of the trace) keeps the trace whole. One whose every sign is older
 * goes: kept for a span in flight, a trace whose process died with its journal would stay
 * for ever. Each check reaches the trace's rows by an index's trace_id prefix.
 */
const DOOMED = (s: QuotedSchema, t: string) => `${t}.start_time < $1 AND COALESCE(${t}.end_time, ${t}.start_time) < $1
  AND NOT EXISTS (SELECT 1 FROM ${s}.spans sp WHERE sp.trace_id = ${t}.trace_id AND sp.start_time >= $1)
  AND NOT EXISTS (SELECT 1 FROM ${s}.logs l WHERE l.kind = 'event' AND l.trace_id = ${t}.trace_id AND l.time >= $1)
  AND NOT EXISTS (SELECT 1 FROM ${s}.logs l WHERE l.kind = 'log' AND l.trace_id = ${t}.trace_id AND ${inSampledSpanSql('l.')} AND (l.time >= $1 OR l.observed_time >= $1))`;

/**
 * Locks the next batch of doomed traces, oldest first, after the last one looked at
 * ($3, $4: a trace kept, in flight say, is not looked at again at every batch).
 * SKIP LOCKED: one an exporter is writing is left for the next run.
 */
function lockSql(s: QuotedSchema): string {
  return `SELECT t.trace_id, t.start_time::text AS start_time FROM ${s}.traces t
 WHERE (t.start_time, t.trace_id) > ($3::timestamptz, $4::text) AND ${DOOMED(s, 't')}
 ORDER BY t.start_time, t.trace_id LIMIT $2 FOR UPDATE SKIP LOCKED`;
}

/**
 * Deletes the locked traces ($2) whole. A statement of its own, after the lock: its
 * snapshot sees every row committed before the lock was taken (taken in the lock's own
 * statement, rows an exporter committed meanwhile were missed, and stayed without their
 * trace for good: a review found 6 in 20 s of writing). The rule is checked again with it.
 */
function deleteSql(s: QuotedSchema): string {
  return `WITH doomed AS (
  SELECT trace_id FROM ${s}.traces t WHERE t.trace_id = ANY($2::text[]) AND ${DOOMED(s, 't')}
), events AS (
  DELETE FROM ${s}.logs WHERE kind = 'event' AND trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
), records AS (
  DELETE FROM ${s}.logs WHERE kind = 'log' AND trace_id IN (SELECT trace_id FROM doomed) AND ${inSampledSpanSql('')} RETURNING 1
), spans AS (
  DELETE FROM ${s}.spans WHERE trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
), traces AS (
  DELETE FROM ${s}.traces WHERE trace_id IN (SELECT trace_id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*) FROM traces)::int AS traces, (SELECT count(*) FROM spans)::int AS spans,
       (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM records)::int AS records`;
}

// Outside any span, or in one not sampled, which has no row (logRows.ts, inSampledSpan):
// by their own time, and never with a trace of the same id (sampled in another service)
// that they would keep, or that would take them.
const OUTSIDE_SPANS = `kind = 'log' AND (trace_id IS NULL OR NOT ${inSampledSpanSql('')}) AND time < $1`;
const DEAD_LETTERS = `last_seen_at < $1`;

/**
 * Pages of a table read per statement by deleteByPages: 8 MiB, a few milliseconds.
 * Rows that match are found page range by page range (a TID range scan, PostgreSQL 14 or
 * later), not with a LIMIT: no index finds log records outside spans by time, and a LIMIT
 * over a scan read the table from its front again at every batch, past every row already
 * deleted; nor can a batch continue after the last row it deleted unless the scan returns
 * rows in the table's order, which an index scan does not.
 */
export const PAGES_PER_STATEMENT = 1024;

const PRUNE_OPTION_NAMES = Object.keys({ olderThan: 1, batch: 1, dryRun: 1 } satisfies Record<keyof PruneOptions, 1>);

/** The first day of 4713 BC (year -4712), within PostgreSQL's timestamp range. */
const EARLIEST_TIMESTAMP_MS = Date.UTC(-4712, 0, 1);

/**
 * Removes what is older than `options.olderThan` from `schemaName` (what `otel-blackbox
 * prune` does), through connections of `pool`, which stays yours. Options it cannot use
 * reject with InvalidOptionError before it connects.
 */
export async function pruneSchema(pool: pg.Pool, schemaName: string, options: PruneOptions): Promise<PruneReport> {
  validPool(pool);
  const s = quoteSchema(schemaName);
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object with olderThan', options);
  knownOptionsOnly('pruneSchema', options, PRUNE_OPTION_NAMES);
  const cutoff = options.olderThan;
  // An invalid Date would reach PostgreSQL as 'Invalid Date' and fail there; a string or
  // a number would be taken in whatever way node-postgres sends it.
  if (!types.isDate(cutoff) || Number.isNaN(cutoff.getTime())) throw new InvalidOptionError('olderThan', 'a valid Date', cutoff);
  // A JavaScript Date reaches 271,821 BC; PostgreSQL's timestamps start in 4713 BC.
  if (cutoff.getTime() < EARLIEST_TIMESTAMP_MS) throw new InvalidOptionError('olderThan', "a valid Date from 4713 BC on (PostgreSQL's range)", cutoff);
  const batch = positiveInteger('batch', options.batch, PRUNE_BATCH);
  booleanOption('dryRun', options.dryRun, false);
  await refuseNewerSchema(pool, schemaName);
  if (options.dryRun) return countOlder(pool, s, cutoff);
  const report: PruneReport = { traces: 0, spans: 0, spanEvents: 0, logRecords: 0, logRecordsOutsideSpans: 0, deadLetters: 0 };
  await pruneTraces(pool, s, cutoff, batch, report);
  report.logRecordsOutsideSpans = await deleteByPages(pool, `${s}.logs`, OUTSIDE_SPANS, cutoff);
  report.deadLetters = await deleteByPages(pool, `${s}.dead_letters`, DEAD_LETTERS, cutoff);
  return report;
}

async function pruneTraces(pool: pg.Pool, s: QuotedSchema, cutoff: Date, batch: number, report: PruneReport): Promise<void> {
  // As migrate.ts holds its client: a connection that failed is destroyed, not given back
  // to the pool, and an error it emits between queries is caught, not thrown at the process.
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  try {
    let after: [string, string] = ['-infinity', ''];
    for (;;) {
      await client.query('BEGIN');
      // The start as PostgreSQL's text: a Date would cut its microseconds.
      const locked = await client.query<{ trace_id: string; start_time: string }>(lockSql(s), [cutoff, batch, after[0], after[1]]);
      if (locked.rows.length > 0) {
        const { rows } = await client.query<{ traces: number; spans: number; events: number; records: number }>(deleteSql(s), [cutoff, locked.rows.map((row) => row.trace_id)]);
        const done = rows[0]!;
        report.traces += done.traces;
        report.spans += done.spans;
        report.spanEvents += done.events;
        report.logRecords += done.records;
        const last = locked.rows.at(-1)!;
        after = [last.start_time, last.trace_id];
      }
      await client.query('COMMIT');
      // Fewer than asked: the rest are being written now (skipped), or there are none.
      if (locked.rows.length < batch) return;
    }
  } catch (error) {
    // Released with its error, the connection goes, and its open transaction with it.
    broken ??= error as Error;
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * Deletes the rows of `table` matching `where` (on $1), PAGES_PER_STATEMENT pages at a
 * time, up to the size it has now. Before PostgreSQL 14 (no TID range scan: each window
 * would read the whole table), in one statement.
 */
async function deleteByPages(pool: pg.Pool, table: string, where: string, cutoff: Date): Promise<number> {
  const { rows } = await pool.query<{ pages: string; version: number }>(
    `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::text AS pages, current_setting('server_version_num')::int AS version`,
    [table],
  );
  const windows = rows[0]!.version >= 140000;
  // SKIP LOCKED: a dead letter an exporter is upserting is left for the next run. Waited
  // for, a window's delete could deadlock with an exporter upserting two of them in the
  // other order (a review reproduced it).
  const sql = `WITH gone AS (
  DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${windows ? 'ctid >= $2::tid AND ctid < $3::tid AND ' : ''}${where} FOR UPDATE SKIP LOCKED) RETURNING 1)
SELECT count(*)::int AS n FROM gone`;
  if (!windows) return (await pool.query<{ n: number }>(sql, [cutoff])).rows[0]!.n;
  const pages = Number(rows[0]!.pages);
  let total = 0;
  for (let page = 0; page < pages; page += PAGES_PER_STATEMENT) {
    const { rows: gone } = await pool.query<{ n: number }>(sql, [cutoff, `(${page},0)`, `(${page + PAGES_PER_STATEMENT},0)`]);
    total += gone[0]!.n;
  }
  return total;
}

async function countOlder(pool: pg.Pool, s: QuotedSchema, cutoff: Date): Promise<PruneReport> {
  const { rows } = await pool.query<{ traces: number; spans: number; events: number; records: number; outside: number; dead: number }>(
    `WITH doomed AS (SELECT trace_id FROM ${s}.traces t WHERE ${DOOMED(s, 't')})
     SELECT (SELECT count(*) FROM doomed)::int AS traces,
            (SELECT count(*) FROM ${s}.spans WHERE trace_id IN (SELECT trace_id FROM doomed))::int AS spans,
            (SELECT count(*) FROM ${s}.logs WHERE kind = 'event' AND trace_id IN (SELECT trace_id FROM doomed))::int AS events,
            (SELECT count(*) FROM ${s}.logs WHERE kind = 'log' AND trace_id IN (SELECT trace_id FROM doomed) AND ${inSampledSpanSql('')})::int AS records,
            (SELECT count(*) FROM ${s}.logs WHERE ${OUTSIDE_SPANS})::int AS outside,
            (SELECT count(*) FROM ${s}.dead_letters WHERE ${DEAD_LETTERS})::int AS dead`,
    [cutoff],
  );
  const r = rows[0]!;
  return { traces: r.traces, spans: r.spans, spanEvents: r.events, logRecords: r.records, logRecordsOutsideSpans: r.outside, deadLetters: r.dead };
}
