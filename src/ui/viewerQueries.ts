// The viewer's read-only queries. Every value is a bind parameter; the only text spliced
// into SQL is the schema name, validated and quoted by quoteSchema. Lists page by keyset
// (the last row's sort key), never OFFSET, so page 1,000 costs what page 1 does. Lists
// order by `start_time` first: the same order as the nanoseconds (it is them truncated by
// the exporter's timestampSql), but one the `start_time` indexes give, so a page reads
// about a page of rows. The cursor's own `start_time` bounds where the next walk starts.
import type { ViewerDatabase } from './viewerDatabase.js';
import type { QuotedSchema } from '../postgres/schemaName.js';
import { timestampSql } from '../postgres/statementSql.js';
import { shortJsonSql } from '../postgres/shortJson.js';
import { writerLinesSql } from '../postgres/writerLines.js';
import { ATTR_WRITER_ID } from '../spanMarkers.js';
import type { LogColumnsPresent } from './LogColumns.js';

export const PAGE_SIZE = 50;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
/** `<start_time_unix_nano>.<trace id>[.<span id>]`: the sort key of a list's last row (negative before 1970). */
const CURSOR = /^(-?\d{1,20})\.([0-9a-f]{32})(?:\.([0-9a-f]{16}))?$/;
/** PostgreSQL's bigint range, which cursors and time bounds must stay in. */
export const MAX_BIGINT = 2n ** 63n - 1n;
export const MIN_BIGINT = -MAX_BIGINT - 1n;
export const TRACE_STATES = ['crashed', 'started', 'ended'] as const;
export type TraceState = (typeof TRACE_STATES)[number];

export class BadRequest extends Error {}

export function isTraceId(value: string): boolean {
  return TRACE_ID.test(value);
}

export function isSpanId(value: string): boolean {
  return SPAN_ID.test(value);
}

export interface ListFilter {
  service?: string;
  state?: TraceState;
  /** Only traces with a span whose status is ERROR (traces only). */
  status?: 'error';
  /** Only rows that started (crash records: crashed) at or after / before these instants. */
  from?: Date;
  to?: Date;
  /** The cursor of the previous page's last row. */
  after?: string;
}

/**
 * Reads a filter from a query string; anything malformed is a BadRequest naming the
 * parameter. `cursor`: what `after` must look like, its first group the nanoseconds.
 */
export function filterFrom(params: URLSearchParams, cursor = CURSOR): ListFilter {
  const filter: ListFilter = {};
  const service = params.get('service');
  // PostgreSQL text holds no NUL: the query failed (22021) with a 500.
  if (service?.includes('\0')) throw new BadRequest('service must not contain a NUL character');
  if (service) filter.service = service;
  const state = params.get('state');
  if (state) {
    if (!(TRACE_STATES as readonly string[]).includes(state)) throw new BadRequest(`state must be one of ${TRACE_STATES.join(', ')}`);
    filter.state = state as TraceState;
  }
  const status = params.get('status');
  if (status) {
    if (status !== 'error') throw new BadRequest('status must be error');
    filter.status = status;
  }
  for (const key of ['from', 'to'] as const) {
    const text = params.get(key);
    if (!text) continue;
    const date = new Date(text);
    // PostgreSQL's timestamptz holds less than JavaScript's Date: out of its range, the
    // query failed (22008) with a 500 and a SQL error in the viewer's terminal.
    const year = date.getUTCFullYear();
    if (Number.isNaN(date.getTime()) || year < 1 || year > 9999) throw new BadRequest(`${key} must be a date and time between the years 1 and 9999`);
    filter[key] = date;
  }
  const after = params.get('after');
  if (after) {
    // The nanoseconds are a bigint in the database: 20 digits can be more than it holds.
    const nanos = cursor.exec(after)?.[1];
    if (nanos === undefined || BigInt(nanos) > MAX_BIGINT || BigInt(nanos) < MIN_BIGINT) throw new BadRequest('after must be a cursor returned by a previous page');
    filter.after = after;
  }
  return filter;
}

function cursorParts(after: string | undefined): [string | null, string | null, string | null] {
  const match = after === undefined ? null : CURSOR.exec(after);
  return match ? [match[1]!, match[2]!, match[3] ?? null] : [null, null, null];
}

export interface Page<T> {
  rows: T[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export interface CrashRow {
  trace_id: string;
  span_id: string;
  name: string;
  service_name: string | null;
  crash_reason: string | null;
  start_time: string;
  end_time: string;
  end_time_unix_nano: string;
}

/**
 * The nanoseconds bound a `from` date implies for end_time_unix_nano, so the index walk
 * stops there rather than reading every older crash record: end_time is the nanoseconds
 * divided by 1,000 (truncated), so end_time >= from holds only where the nanoseconds are
 * above from's microseconds times 1,000, less 1,000 (either sign). None where every bigint
 * is above it; the largest where none is (end_time >= from still decides).
 */
function nanosFrom(from: Date | undefined): string | null {
  if (from === undefined) return null;
  const bound = BigInt(from.getTime()) * 1_000_000n - 999n;
  return bound < MIN_BIGINT ? null : String(bound > MAX_BIGINT ? MAX_BIGINT : bound);
}

/** As nanosFrom, for `to`, where the walk starts: end_time < to holds only below to's milliseconds times 1,000,000. */
function nanosBefore(to: Date | undefined): string | null {
  if (to === undefined) return null;
  const bound = BigInt(to.getTime()) * 1_000_000n;
  return bound > MAX_BIGINT ? null : String(bound < MIN_BIGINT ? MIN_BIGINT : bound);
}

/**
 * Crash records, the latest crash first: by the end a crash record is given (its process's
 * last sign of life), and `from`/`to` bound that too. By their spans' start, a long task
 * that crashed now came after every crash of a span started later, and a page of one
 * missed it (a review). A page is a walk of spans_crashes_by_end_idx (migration 11) from
 * the cursor, however many crash records a crash loop left.
 */
export async function listCrashes(pool: ViewerDatabase, schema: QuotedSchema, filter: ListFilter): Promise<Page<CrashRow>> {
  const [nanos, traceId, spanId] = cursorParts(filter.after);
  const { rows } = await pool.query<CrashRow>(
    // Cut as the trace view cuts them: whole, 25 crashes of a 1 MB reason were a 25 MB page (a review).
    `SELECT trace_id, span_id, ${shortSql('name', LIST_NAME_CHARS)}, ${shortSql('service_name', LIST_NAME_CHARS)}, ${shortSql('crash_reason', LIST_REASON_CHARS)},
            start_time, end_time, end_time_unix_nano::text AS end_time_unix_nano
       FROM ${schema}.spans c
      WHERE state = 'crashed' AND end_time IS NOT NULL
        AND ($1::text IS NULL OR service_name = $1)
        AND ($2::timestamptz IS NULL OR end_time >= $2)
        AND ($3::timestamptz IS NULL OR end_time < $3)
        -- The same bounds on the index's column: where the walk starts and stops.
        AND ($7::bigint IS NULL OR end_time_unix_nano >= $7)
        AND ($8::bigint IS NULL OR end_time_unix_nano < $8)
        AND ($4::bigint IS NULL OR (end_time_unix_nano, trace_id, span_id) < ($4::bigint, $5::text COLLATE "C", $6::text COLLATE "C"))
      -- The column, not the output's text of the same name, whose order is not the number's.
      -- NULLS LAST (there are none here) as spans_crashes_by_end_idx has it: a page is a walk of it.
      ORDER BY c.end_time_unix_nano DESC NULLS LAST, c.trace_id DESC, c.span_id DESC
      LIMIT ${PAGE_SIZE + 1}`,
    [filter.service ?? null, filter.from ?? null, filter.to ?? null, nanos, traceId, spanId ?? '', nanosFrom(filter.from), nanosBefore(filter.to)],
  );
  return page(rows, (row) => `${row.end_time_unix_nano}.${row.trace_id}.${row.span_id}`);
}

export interface TraceRow {
  trace_id: string;
  service_name: string | null;
  root_span_name: string | null;
  start_time: string;
  end_time: string | null;
  start_time_unix_nano: string;
  duration_ns: string | null;
  span_count: number;
  /** Its spans whose status is ERROR. */
  error_count: number;
  state: TraceState;
}

/**
 * Traces with a span whose status is ERROR, through spans_error_idx (migration 9). In the
 * query only when asked for: as `(NOT $7 OR trace_id IN (...))` PostgreSQL could not make
 * it a semi-join, and hashed every error span, or walked every trace, at each page
 * (5,116 to 6,814 buffers at 200,000 traces, against 110 to 379 this way: a review).
 */
function withAnErrorSql(schema: QuotedSchema): string {
  return `AND EXISTS (SELECT 1 FROM ${schema}.spans e WHERE e.trace_id = t.trace_id AND e.status_code = 'ERROR')`;
}

/**
 * Traces walked newest first, at most, looking for a page of those with a span crashed or
 * in flight ($4), before that state's spans are read whole: enough for a page where one
 * trace in ten is in that state (a crash loop), a few milliseconds where none is.
 */
export const STATE_WALK_TRACES = 500;

/**
 * How a page of traces in a state is looked for. 'walk': the newest STATE_WALK_TRACES past
 * the cursor, each looked up (a semi-join), which is a page where many are in that state:
 * 0.6 ms where 100,000 of 200,000 traces crashed, against 44 ms reading every crash record.
 * 'hashed': every span in that state read once, and the traces walked by time against them,
 * which is a page however the state's spans lie: left to itself, the planner walked a
 * million traces to reach crash records all at the old end (3.3 s against 0.28 s, a
 * review). The `$4 IS NULL OR` keeps that subquery a hashed subplan: as a plain semi-join
 * the planner may walk instead.
 */
type StateLookup = 'walk' | 'hashed';

const NEWEST_FIRST = 't.start_time DESC, t.start_time_unix_nano DESC, t.trace_id DESC';

/** The traces past the cursor that the filter keeps ($1 to $3, $5, $6, and $4 by `lookup`); for a 'walk', the newest STATE_WALK_TRACES, in order. */
function tracesKeptSql(schema: QuotedSchema, filter: ListFilter, lookup: StateLookup | undefined): string {
  return `SELECT t.* FROM ${schema}.traces t
      WHERE ($1::text IS NULL OR t.service_name = $1)
        AND ($2::timestamptz IS NULL OR t.start_time >= $2)
        AND ($3::timestamptz IS NULL OR t.start_time < $3)
        AND ($5::bigint IS NULL OR (t.start_time <= ${timestampSql('$5::bigint')}
             AND (t.start_time_unix_nano, t.trace_id) < ($5::bigint, $6::text COLLATE "C")))
        ${lookup === 'hashed' ? `AND ($4::text IS NULL OR t.trace_id IN (SELECT trace_id FROM ${schema}.spans WHERE state = $4))` : ''}
        ${filter.status === 'error' ? withAnErrorSql(schema) : ''}
      ${lookup === 'walk' ? `ORDER BY ${NEWEST_FIRST} LIMIT ${STATE_WALK_TRACES}` : ''}`;
}

function tracesSql(schema: QuotedSchema, filter: ListFilter, lookup: StateLookup | undefined): string {
  // 'walk': the newest traces, in order, so the walk ends at a page's last. Else a plain
  // subquery, which PostgreSQL flattens: the traces walked by time until a page is found.
  const traces = `(${tracesKeptSql(schema, filter, lookup)})`;
  // A trace is 'crashed' if any span crashed, else 'started' while any span is in flight.
  return `SELECT t.trace_id, ${shortSql('t.service_name', LIST_NAME_CHARS, 'service_name')}, ${shortSql('t.root_span_name', LIST_NAME_CHARS, 'root_span_name')}, t.start_time, t.end_time,
            t.start_time_unix_nano::text AS start_time_unix_nano,
            (t.end_time_unix_nano - t.start_time_unix_nano)::text AS duration_ns,
            s.span_count, s.error_count, s.state
       FROM ${traces} t
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS span_count,
                (count(*) FILTER (WHERE status_code = 'ERROR'))::int AS error_count,
                CASE WHEN bool_or(state = 'crashed') THEN 'crashed'
                     WHEN bool_or(state = 'started') THEN 'started'
                     ELSE 'ended' END AS state
           FROM ${schema}.spans WHERE trace_id = t.trace_id) s
      WHERE ($4::text IS NULL OR s.state = $4)
        ${lookup === 'walk' ? `AND EXISTS (SELECT 1 FROM ${schema}.spans x WHERE x.trace_id = t.trace_id AND x.state = $4)` : ''}
      ORDER BY ${NEWEST_FIRST}
      LIMIT ${PAGE_SIZE + 1}`;
}

export async function listTraces(pool: ViewerDatabase, schema: QuotedSchema, filter: ListFilter): Promise<Page<TraceRow>> {
  const [nanos, traceId] = cursorParts(filter.after);
  const values = [filter.service ?? null, filter.from ?? null, filter.to ?? null, filter.state ?? null, nanos, traceId ?? ''];
  const cursorOf = (row: TraceRow) => `${row.start_time_unix_nano}.${row.trace_id}`;
  if (filter.state !== 'crashed' && filter.state !== 'started') return page((await pool.query<TraceRow>(tracesSql(schema, filter, undefined), values)).rows, cursorOf);
  const walked = (await pool.query<TraceRow>(tracesSql(schema, filter, 'walk'), values)).rows;
  // A full page, or every trace past the cursor walked: the page. Else they are rare here.
  if (walked.length > PAGE_SIZE || (await tracesPast(pool, schema, filter, values)) < STATE_WALK_TRACES) return page(walked, cursorOf);
  return page((await pool.query<TraceRow>(tracesSql(schema, filter, 'hashed'), values)).rows, cursorOf);
}

/** Traces past the cursor, up to STATE_WALK_TRACES: fewer, and a walk saw them all. */
async function tracesPast(pool: ViewerDatabase, schema: QuotedSchema, filter: ListFilter, values: unknown[]): Promise<number> {
  // $4 named, as every query of the page is given it.
  const { rows } = await pool.query<{ count: string }>(
    `SELECT count(*) AS count FROM (${tracesKeptSql(schema, filter, 'walk')}) n WHERE $4::text IS NOT NULL`,
    values,
  );
  return Number(rows[0]!.count);
}

export function page<T>(rows: T[], cursorOf: (row: T) => string): Page<T> {
  const more = rows.length > PAGE_SIZE;
  const shown = more ? rows.slice(0, PAGE_SIZE) : rows;
  return { rows: shown, next: more ? cursorOf(shown[shown.length - 1]!) : null };
}

export async function listServices(pool: ViewerDatabase, schema: QuotedSchema): Promise<string[]> {
  // Distinct over the traces table's recent rows: bounded, and enough for a filter menu.
  const { rows } = await pool.query<{ service_name: string }>(
    `SELECT DISTINCT service_name FROM (
       SELECT service_name FROM ${schema}.traces ORDER BY start_time DESC LIMIT 10000) recent
      WHERE service_name IS NOT NULL AND length(service_name) <= ${LIST_NAME_CHARS} ORDER BY service_name LIMIT 500`,
  );
  return rows.map((row) => row.service_name);
}

export interface SpanDetail {
  span_id: string;
  parent_span_id: string | null;
  /** The parent is in another process (an incoming request's, a message's producer): null without a parent. */
  parent_is_remote: boolean | null;
  name: string;
  kind: string;
  state: string;
  start_time_unix_nano: string;
  end_time_unix_nano: string | null;
  status_code: string;
  status_message: string | null;
  service_name: string | null;
  scope_name: string | null;
  scope_version: string | null;
  crash_reason: string | null;
  end_time_estimated: boolean;
}

/** Spans cap per trace view: 5,000 render in well under a second (see test/ui); beyond this the page says so. */
export const MAX_TRACE_SPANS = 20_000;

/** Characters of one text value sent to the browser; the rest is said, not sent. */
export const MAX_SHOWN_CHARS = 64 * 1024;

/** `column`, cut to `chars` with an ellipsis, as `name`: a span name or a reason is as long as its maker made it. */
export function shortSql(column: string, chars: number, name = column): string {
  return `CASE WHEN length(${column}) > ${chars} THEN left(${column}, ${chars}) || '…' ELSE ${column} END AS ${name}`;
}

/** Characters of each text of a span in a trace's response (the waterfall's rows); the selected span's details have more. */
const TRACE_TEXT_CHARS = 256;

/** Characters of a name in a list row, and of a crash's reason there (its first line is shown; the trace view has the rest). */
export const LIST_NAME_CHARS = 1000;
const LIST_REASON_CHARS = 4096;

/** A trace's spans by state, and those with status ERROR: the whole trace's, not only those shown. */
export interface TraceCounts {
  spans: number;
  ended: number;
  crashed: number;
  started: number;
  errors: number;
}

/** Spans a cut trace shows whatever their start (crash records, ERROR spans, the one asked for), parents not counted. */
const MAX_SPANS_THAT_MATTER = 1000;
/** Those spans with their parents, up to the root: a chain is cut here (a 20,000-deep one costs 20,000 lookups). */
const MAX_SPANS_THAT_MATTER_WITH_PARENTS = 5000;

// Only what the waterfall draws and the details pane lists: attributes, links and the
// resource are fetched for the selected span (spanDetails). With them, a trace's response
// had no bound: 40 spans with a 1 MB attribute each were a 42 MB body and 200 MB of the
// viewer's memory, and at 20,000 spans it would have run out.
// The texts are cut to what a row of the waterfall shows (TRACE_TEXT_CHARS); the selected
// span's come whole, up to MAX_SHOWN_CHARS, with its details (spanDetails). Cut at 64 KiB
// each, 5,000 crash records' reasons of 20 KB made a 125 MB response, and the viewer took
// 3 GB for three of them at once (a review).
const TRACE_SPAN_COLUMNS = `span_id, parent_span_id, parent_is_remote, ${shortSql('name', TRACE_TEXT_CHARS)}, kind, state,
            start_time_unix_nano::text AS start_time_unix_nano, end_time_unix_nano::text AS end_time_unix_nano,
            status_code, ${shortSql('status_message', TRACE_TEXT_CHARS)}, ${shortSql('service_name', TRACE_TEXT_CHARS)}, ${shortSql('scope_name', TRACE_TEXT_CHARS)},
            ${shortSql('scope_version', TRACE_TEXT_CHARS)}, ${shortSql('crash_reason', TRACE_TEXT_CHARS)}, end_time_estimated`;

/**
 * A trace's spans by start time, at most MAX_TRACE_SPANS. Cut, the first ones by start were
 * all it showed: crash records, the spans still open when a process died, usually start
 * last, and in a batch job of 25,000 rows the crash a user clicked was not in the view (a
 * review). A cut trace shows its crash records, its ERROR spans and `spanId` (the span a
 * link names) whatever their start, with their parents, then the first spans by start; its
 * counts are the whole trace's.
 */
export async function traceSpans(
  pool: ViewerDatabase,
  schema: QuotedSchema,
  traceId: string,
  spanId?: string,
): Promise<{ spans: SpanDetail[]; truncated: boolean; counts: TraceCounts }> {
  const { rows: first } = await pool.query<SpanDetail>(
    `SELECT ${TRACE_SPAN_COLUMNS} FROM ${schema}.spans WHERE trace_id = $1 ORDER BY start_time_unix_nano, span_id LIMIT ${MAX_TRACE_SPANS + 1}`,
    [traceId],
  );
  if (first.length <= MAX_TRACE_SPANS) return { spans: first, truncated: false, counts: countsOf(first) };
  const [{ rows: mattering }, { rows: counted }] = await Promise.all([
    pool.query<SpanDetail>(
      `WITH RECURSIVE chain (span_id, parent_span_id) AS (
         (SELECT span_id, parent_span_id FROM ${schema}.spans
           WHERE trace_id = $1 AND (state = 'crashed' OR status_code = 'ERROR' OR span_id = $2)
           ORDER BY span_id = $2 DESC, state = 'crashed' DESC, start_time_unix_nano DESC LIMIT ${MAX_SPANS_THAT_MATTER})
         UNION
         SELECT parent.span_id, parent.parent_span_id FROM chain JOIN ${schema}.spans parent ON parent.trace_id = $1 AND parent.span_id = chain.parent_span_id)
       SELECT ${TRACE_SPAN_COLUMNS} FROM ${schema}.spans
        WHERE trace_id = $1 AND span_id IN (SELECT span_id FROM chain LIMIT ${MAX_SPANS_THAT_MATTER_WITH_PARENTS})`,
      [traceId, spanId ?? ''],
    ),
    pool.query<TraceCounts>(
      `SELECT count(*)::int AS spans, count(*) FILTER (WHERE state = 'ended')::int AS ended, count(*) FILTER (WHERE state = 'crashed')::int AS crashed,
              count(*) FILTER (WHERE state = 'started')::int AS started, count(*) FILTER (WHERE status_code = 'ERROR')::int AS errors
         FROM ${schema}.spans WHERE trace_id = $1`,
      [traceId],
    ),
  ]);
  const kept = new Set(mattering.map((span) => span.span_id));
  const earliest = first.filter((span) => !kept.has(span.span_id)).slice(0, MAX_TRACE_SPANS - mattering.length);
  return { spans: [...earliest, ...mattering].sort(byStart), truncated: true, counts: counted[0]! };
}

function byStart(a: SpanDetail, b: SpanDetail): number {
  const [x, y] = [BigInt(a.start_time_unix_nano), BigInt(b.start_time_unix_nano)];
  return x < y ? -1 : x > y ? 1 : a.span_id < b.span_id ? -1 : a.span_id > b.span_id ? 1 : 0;
}

function countsOf(spans: SpanDetail[]): TraceCounts {
  const counts: TraceCounts = { spans: spans.length, ended: 0, crashed: 0, started: 0, errors: 0 };
  for (const span of spans) {
    if (span.state === 'ended' || span.state === 'crashed' || span.state === 'started') counts[span.state] += 1;
    if (span.status_code === 'ERROR') counts.errors += 1;
  }
  return counts;
}

/** A row of the logs table: span events and log records. */
export interface LogDetail {
  time_unix_nano: string;
  /** The columns the viewer shows (LOG_PLAIN_COLUMNS, and body and attributes as stored when small, else their first characters as text). */
  fields: Record<string, unknown>;
}

export const MAX_SPAN_LOGS = 1000;

/** What the selected span's details show beyond the trace's response: large values, each string cut to MAX_SHOWN_CHARS. */
export interface SpanExtras {
  /** The row's state: only a 'crashed' row is a crash record, whatever its attributes say (spanRows.ts markedState). */
  state: string | null;
  /** Its texts, cut shorter in the trace's response. */
  name: string;
  status_message: string | null;
  crash_reason: string | null;
  scope_name: string | null;
  scope_version: string | null;
  /** ATTR_WRITER_ID, read by PostgreSQL: attributes past MAX_DETAIL_JSON_CHARS come as text, which holds it no more. */
  writer_id: string | null;
  attributes: unknown;
  links: unknown;
  resource: unknown;
  resource_schema_url: unknown;
  scope_schema_url: unknown;
}

/**
 * The selected span's attributes, links, resource and schema URLs, each string cut to
 * MAX_SHOWN_CHARS; undefined when the trace has no such span.
 */
export async function spanDetails(pool: ViewerDatabase, schema: QuotedSchema, traceId: string, spanId: string): Promise<SpanExtras | undefined> {
  const { rows } = await pool.query<SpanExtras>(
    `SELECT state, ${shortSql('name', MAX_SHOWN_CHARS)}, ${shortSql('status_message', MAX_SHOWN_CHARS)}, ${shortSql('crash_reason', MAX_SHOWN_CHARS)},
            ${shortSql('scope_name', MAX_SHOWN_CHARS)}, ${shortSql('scope_version', MAX_SHOWN_CHARS)},
            ${shortSql(`attributes->>$3`, MAX_SHOWN_CHARS, 'writer_id')},
            ${boundedJsonSql('attributes')}, ${boundedJsonSql('links')}, ${boundedJsonSql('resource')}, resource_schema_url, scope_schema_url
       FROM ${schema}.spans WHERE trace_id = $1 AND span_id = $2`,
    [traceId, spanId, ATTR_WRITER_ID],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    ...row,
    attributes: shortened(row.attributes),
    links: shortened(row.links),
    resource: shortened(row.resource),
    resource_schema_url: shortened(row.resource_schema_url),
    scope_schema_url: shortened(row.scope_schema_url),
  };
}

/** JSON text of a span's attributes, links or resource sent whole up to this many characters; past it, its first MAX_SHOWN_CHARS. */
const MAX_DETAIL_JSON_CHARS = 1024 * 1024;

/**
 * A span's jsonb column as sent to the viewer: whole up to MAX_DETAIL_JSON_CHARS of JSON
 * text, else its first MAX_SHOWN_CHARS as a string. `shortened` cuts each long string, but
 * not many short ones: 4 attributes of a million short strings each were a 40 MB response,
 * 17 s to render, and 933 MB of the viewer's memory for six requests (a review).
 */
function boundedJsonSql(column: string): string {
  return `(SELECT CASE WHEN length(c) <= ${MAX_DETAIL_JSON_CHARS} THEN ${column}
             ELSE to_jsonb(left(c, ${MAX_SHOWN_CHARS - 64}) || '… (cut for the viewer: ' || length(c) || ' characters of JSON)') END
      FROM (SELECT ${column}::text AS c) AS t) AS ${column}`;
}

/** A JSON value with every string longer than MAX_SHOWN_CHARS cut, saying how much was left out. */
function shortened(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length > MAX_SHOWN_CHARS ? `${value.slice(0, MAX_SHOWN_CHARS)}… (${value.length - MAX_SHOWN_CHARS} more characters)` : value;
  }
  if (Array.isArray(value)) return value.map(shortened);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [shortened(key) as string, shortened(item)]));
  }
  return value;
}

/** The columns of a log line the viewer shows as they are (not its resource: the span's details show that). */
const LOG_PLAIN_COLUMNS = `kind, time_unix_nano, event_index, event_name, sequence, severity_text, severity_number,
  observed_time_unix_nano, trace_flags, scope_name, scope_version, dropped_attributes_count`;

/** A logger's scope attributes as stored, or null where the schema has no such column (LogColumns.ts). */
function scopeAttributesSql(columns: LogColumnsPresent): string {
  return columns.scopeAttributes ? 'scope_attributes' : 'NULL::jsonb AS scope_attributes';
}

/**
 * A span's newest lines come with their bodies and attributes up to MAX_SHOWN_CHARS each;
 * the older ones up to OLDER_LINE_CHARS. All of them at 64 KiB, 1,000 lines were a 131 MB
 * response, 1.1 GB of the viewer's memory and 34 s of the browser's (a review).
 */
const NEWEST_LINES_WHOLE = 20;
export const OLDER_LINE_CHARS = 4096;

/**
 * A log line's body, attributes and scope attributes as the viewer takes them
 * (LOG_PLAIN_COLUMNS go as they are), cut by PostgreSQL: up to MAX_SHOWN_CHARS each for the
 * newest NEWEST_LINES_WHOLE lines by `newest` (the line's place, 1 for the newest),
 * OLDER_LINE_CHARS for the others.
 */
function logValuesSql(newest: string): string {
  const cut = (column: string) =>
    `CASE WHEN ${newest} <= ${NEWEST_LINES_WHOLE} THEN ${shortJsonSql(column, MAX_SHOWN_CHARS, 'cut for the viewer')}
          ELSE ${shortJsonSql(column, OLDER_LINE_CHARS, 'cut for the viewer')} END AS ${column}`;
  return `${cut('body')}, body IS NULL AS body_missing, ${cut('attributes')}, ${cut('scope_attributes')}`;
}

export async function spanLogs(pool: ViewerDatabase, schema: QuotedSchema, traceId: string, spanId: string, columns: LogColumnsPresent): Promise<{ logs: LogDetail[]; truncated: boolean }> {
  // Named columns, the large ones cut here (shortJsonSql), once the lines to send are
  // chosen: whole rows (to_jsonb of the table's row) brought bodies of megabytes to the
  // viewer, to be cut there.
  // One branch per kind: each kind's key on the span is a partial index (logs_event_key,
  // logs_span_idx), which a query that does not name the kind cannot use; it read the
  // whole table, 174 ms for 180,000 rows here. The newest are kept: the lines right before
  // a crash are the ones a crash record is read for. Lines of one millisecond keep the
  // order they were logged in (their sequence), as `crashes` shows them.
  const stored = `${LOG_PLAIN_COLUMNS}, body, attributes, ${scopeAttributesSql(columns)}`;
  const { rows } = await pool.query<LogDetail>(
    `SELECT l.time_unix_nano::text AS time_unix_nano, to_jsonb(l) - 'time_unix_nano' AS fields
       FROM (SELECT ${LOG_PLAIN_COLUMNS}, ${logValuesSql('newest')}
               FROM (SELECT u.*, row_number() OVER (ORDER BY time_unix_nano DESC, sequence DESC NULLS LAST, event_index DESC NULLS LAST) AS newest
                       FROM ((SELECT ${stored} FROM ${schema}.logs WHERE kind = 'event' AND trace_id = $1 AND span_id = $2
                               ORDER BY time_unix_nano DESC, event_index DESC LIMIT ${MAX_SPAN_LOGS + 1})
                             UNION ALL
                             (SELECT ${stored} FROM ${schema}.logs WHERE kind = 'log' AND trace_id = $1 AND span_id = $2
                               ORDER BY time_unix_nano DESC, sequence DESC LIMIT ${MAX_SPAN_LOGS + 1})) u) w
              WHERE newest <= ${MAX_SPAN_LOGS + 1}) l
      ORDER BY l.time_unix_nano DESC, l.sequence DESC NULLS LAST, l.event_index DESC NULLS LAST`,
    [traceId, spanId],
  );
  return oldestFirst(rows, MAX_SPAN_LOGS);
}

/** Rows fetched newest first, one more than `max`: the newest `max`, oldest first, cut for the browser, and whether there were more. */
function oldestFirst(rows: LogDetail[], max: number): { logs: LogDetail[]; truncated: boolean } {
  const logs = rows.slice(0, max).reverse().map((log) => ({ ...log, fields: shortened(log.fields) as Record<string, unknown> }));
  return { logs, truncated: rows.length > max };
}

/** Lines of a dead process shown with its crash record: the last ones it logged. */
export const MAX_PROCESS_LOGS = 50;

/**
 * What the journal writer `writerId` (a process, or a worker thread with its own provider)
 * logged last, in spans or outside any, oldest first: shown with its crash records, where
 * the lines outside the crashed span (a pool exhausted, a retry loop) are often the
 * reason. A crash record names its writer (ATTR_WRITER_ID); the writer's log rows are
 * keyed by it and their sequence, so the unique index logs_record_key serves this as one
 * short backward scan, however many rows the table holds. Its newest lines whole, as a
 * span's (NEWEST_LINES_WHOLE).
 */
export async function processLogs(pool: ViewerDatabase, schema: QuotedSchema, writerId: string, columns: LogColumnsPresent): Promise<{ writer_id: string; logs: LogDetail[]; truncated: boolean }> {
  const { rows } = await pool.query<LogDetail>(
    `SELECT l.time_unix_nano::text AS time_unix_nano, to_jsonb(l) - 'time_unix_nano' AS fields
       FROM (SELECT ${LOG_PLAIN_COLUMNS}, trace_id, span_id, ${logValuesSql('newest')}
               FROM (SELECT w.*, row_number() OVER (ORDER BY sequence DESC) AS newest
                       FROM (${writerLinesSql(schema, `${LOG_PLAIN_COLUMNS}, trace_id, span_id, body, attributes, ${scopeAttributesSql(columns)}`, '$1', String(MAX_PROCESS_LOGS + 1))}) w) n) l
      ORDER BY l.sequence DESC`,
    [writerId],
  );
  return { writer_id: writerId, ...oldestFirst(rows, MAX_PROCESS_LOGS) };
}
