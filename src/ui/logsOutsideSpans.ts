// The viewer's list of log lines that no span of the schema shows: those emitted outside
// any span (a start-up failure, a pool exhausted between requests) and those in a span
// recorded but not sampled, which keep its ids and have no span row (logRows.ts,
// inSampledSpan). A span's details list its own lines; these had no page at all (an
// accessibility review). Newest first, paged by keyset over logs_outside_spans_idx
// (migration 10), whose predicate OUTSIDE_SAMPLED_SPANS repeats word for word, so that
// PostgreSQL proves the index applies.
import type { ViewerDatabase } from './viewerDatabase.js';
import type { QuotedSchema } from '../postgres/schemaName.js';
import { inSampledSpanSql } from '../postgres/logRows.js';
import { shortJsonSql } from '../postgres/shortJson.js';
import { timestampSql } from '../postgres/statementSql.js';
import { BadRequest, MAX_BIGINT, LIST_NAME_CHARS, OLDER_LINE_CHARS, PAGE_SIZE, filterFrom, page, shortSql, type ListFilter, type Page } from './viewerQueries.js';
import type { LogColumnsPresent } from './LogColumns.js';

/**
 * `<time_unix_nano>.<sequence>.<writer id, base64url>`: the sort key of the page's last
 * line. Room for a writer id of 6 KiB (ours are under 100 characters): one of 1,600 made a
 * cursor the next page refused, and the list ended there (a review).
 */
const LOG_CURSOR = /^(-?\d{1,20})\.(\d{1,20})\.([A-Za-z0-9_-]{0,8192})$/;

/** The index's predicate (migration 10), as the query must state it. */
export const OUTSIDE_SAMPLED_SPANS = `kind = 'log' AND (trace_id IS NULL OR NOT ${inSampledSpanSql('')})`;

export interface LogLineRow {
  time: string;
  time_unix_nano: string;
  writer_id: string;
  sequence: string;
  service_name: string | null;
  severity_text: string | null;
  severity_number: number | null;
  /** The body, cut to OLDER_LINE_CHARS of JSON (a string past it); null with body_missing when the record has none. */
  body: unknown;
  body_missing: boolean;
  trace_id: string | null;
  span_id: string | null;
  trace_flags: number | null;
  /** The logger it came through (its instrumentation scope), each cut to LIST_NAME_CHARS. */
  scope_name: string | null;
  scope_version: string | null;
  /** The logger's scope attributes, cut as the body is; null where it gave none, or the schema has no such column. */
  scope_attributes: unknown;
}

/**
 * `severity`: the lowest severity listed, by OpenTelemetry's severity numbers (each name
 * the first of its four: WARN 13 takes WARN2 to WARN4 and everything above).
 */
export const SEVERITIES = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 } as const;
export type SeverityName = keyof typeof SEVERITIES;

export interface LogLineFilter extends ListFilter {
  severity?: SeverityName;
}

/**
 * Texts a record with no severity number (or 0, unspecified) may say its level in, other
 * than the names themselves: logging libraries' own words, as OpenTelemetry's mapping of
 * them has it (WARNING is WARN, CRITICAL is FATAL).
 */
const SEVERITY_WORDS: Record<string, number> = { WARNING: 13, ERR: 17, CRITICAL: 21, CRIT: 21, EMERGENCY: 21, PANIC: 21 };

/**
 * The texts at or above `least` (upper case, compared with the record's text upper-cased
 * and trimmed): a line without a number is listed by its text, not left out. Each name
 * with its four levels (WARN2 is a WARN).
 */
function textsFrom(least: SeverityName): string[] {
  const at = Object.entries(SEVERITIES).filter(([, number]) => number >= SEVERITIES[least]);
  return [
    ...at.flatMap(([name]) => ['', '2', '3', '4'].map((level) => name.toUpperCase() + level)),
    ...Object.entries(SEVERITY_WORDS).filter(([, number]) => number >= SEVERITIES[least]).map(([word]) => word),
  ];
}

/** A filter from a query string, its cursor a log line's (LOG_CURSOR). */
export function logFilterFrom(params: URLSearchParams): LogLineFilter {
  const filter: LogLineFilter = filterFrom(params, LOG_CURSOR);
  // In any case: severity=WARN was a 400 (a review).
  const severity = params.get('severity')?.toLowerCase();
  if (severity) {
    if (!Object.hasOwn(SEVERITIES, severity)) throw new BadRequest(`severity must be one of ${Object.keys(SEVERITIES).join(', ')}`);
    filter.severity = severity as SeverityName;
  }
  // A sequence past a bigint, or a writer id PostgreSQL text cannot hold (NUL), failed the
  // query with a 500 (a review): a cursor no page returns.
  const match = filter.after === undefined ? null : LOG_CURSOR.exec(filter.after);
  if (match && (BigInt(match[2]!) > MAX_BIGINT || Buffer.from(match[3]!, 'base64url').includes(0))) throw new BadRequest('after must be a cursor returned by a previous page');
  return filter;
}

export async function listLogsOutsideSpans(pool: ViewerDatabase, schema: QuotedSchema, filter: LogLineFilter, columns: LogColumnsPresent): Promise<Page<LogLineRow>> {
  const match = filter.after === undefined ? null : LOG_CURSOR.exec(filter.after);
  const [nanos, sequence, writerId] = match ? [match[1]!, match[2]!, Buffer.from(match[3]!, 'base64url').toString('utf8')] : [null, null, null];
  // Ties of one nanosecond keep the order the lines were logged in (writer, then sequence).
  const { rows } = await pool.query<LogLineRow>(
    `SELECT time, time_unix_nano::text AS time_unix_nano, writer_id, sequence::text AS sequence,
            ${shortSql('service_name', LIST_NAME_CHARS)}, ${shortSql('severity_text', LIST_NAME_CHARS)}, severity_number,
            ${shortJsonSql('body', OLDER_LINE_CHARS, 'cut for the viewer')}, body IS NULL AS body_missing, trace_id, span_id, trace_flags,
            ${shortSql('scope_name', LIST_NAME_CHARS)}, ${shortSql('scope_version', LIST_NAME_CHARS)},
            ${columns.scopeAttributes ? `${shortJsonSql('scope_attributes', OLDER_LINE_CHARS, 'cut for the viewer')} AS scope_attributes` : 'NULL::jsonb AS scope_attributes'}
       FROM ${schema}.logs l
      WHERE ${OUTSIDE_SAMPLED_SPANS}
        AND ($1::text IS NULL OR service_name = $1)
        AND ($2::timestamptz IS NULL OR time >= $2)
        AND ($3::timestamptz IS NULL OR time < $3)
        -- At least a severity: by its number, the normalised level, where it has one (a text
        -- that says otherwise is the library's own word); else by its text (0: unspecified).
        AND ($7::int IS NULL OR severity_number >= $7 OR (COALESCE(severity_number, 0) = 0 AND upper(btrim(severity_text)) = ANY ($8::text[])))
        AND ($4::bigint IS NULL OR (time <= ${timestampSql('$4::bigint')}
             AND (time_unix_nano, writer_id COLLATE "C", sequence) < ($4::bigint, $5::text COLLATE "C", $6::bigint)))
      -- The table's columns, not the output's of the same names (text): by those, sequence
      -- 100 came before 99, and a page skipped lines and repeated others (a review).
      ORDER BY l.time DESC, l.time_unix_nano DESC, l.writer_id COLLATE "C" DESC, l.sequence DESC
      LIMIT ${PAGE_SIZE + 1}`,
    [
      filter.service ?? null, filter.from ?? null, filter.to ?? null, nanos, writerId ?? '', sequence,
      filter.severity === undefined ? null : SEVERITIES[filter.severity], filter.severity === undefined ? null : textsFrom(filter.severity),
    ],
  );
  return page(rows, (row) => `${row.time_unix_nano}.${row.sequence}.${Buffer.from(row.writer_id, 'utf8').toString('base64url')}`);
}
