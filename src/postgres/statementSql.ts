// The SQL text of the exporter's statements, built once per schema. Each reads one array
// parameter per column back with unnest(), so a batch of any size is a fixed number of
// bind parameters (far below the 65,535 limit) and one round trip per table. Measured on
// 512-span batches against multi-row VALUES (one parameter per cell: about half the
// rows/s) and jsonb_to_recordset over one JSON document (about 15% slower).
import { decodeSql, SPAN_KINDS, SPAN_STATES, STATUS_CODES } from './columnCodes.js';
import type { QuotedSchema } from './schemaName.js';
import { standInSql } from './logRows.js';
import { stateRankSql } from './statePrecedence.js';
import { ATTR_SPAN_STATE } from '../spanMarkers.js';

/**
 * `(SELECT unnest($1::text[]) AS trace_id, ...) AS r`: one row per array position.
 * Set-returning functions in a select list advance in lockstep without materialising
 * anything; `unnest(a, b, ...)` in FROM first copies every array into a tuplestore, which
 * cost the server about 8% more CPU per span here.
 */
function unnestRows(columns: Record<string, string>): string {
  const list = Object.entries(columns).map(([name, parameter]) => `unnest(${parameter}) AS ${name}`);
  return `(SELECT ${list.join(',\n          ')}) AS r`;
}

/** Nanoseconds → timestamptz, truncated to PostgreSQL's microseconds, exact (no float seconds). */
export function timestampSql(unixNano: string): string {
  return `('epoch'::timestamptz + (${unixNano} / 1000) * interval '1 microsecond')`;
}

/**
 * $8 lists the traces the batch knows only from stand-in rows (TraceRow.tentative): made
 * where missing, never changed (their times are a log record's). One statement for all,
 * so a batch locks its traces' rows in one sorted pass: a second statement for these
 * locked after the first, and two batches that crossed deadlocked.
 */
export function tracesSql(s: QuotedSchema): string {
  // The stored root gives way only where it has none, or where it is a span whose parent is
  // in another process and the batch's is a span without a parent, or one such that
  // started before it (ties: the lower span id; traceRows.ts compares the same). Migration 6.
  const takesRoot = `(t.root_span_id IS NULL
      OR (t.root_parent_is_remote AND EXCLUDED.root_span_id IS NOT NULL
          AND (NOT EXCLUDED.root_parent_is_remote
               OR (EXCLUDED.root_start_time_unix_nano, EXCLUDED.root_span_id) < (t.root_start_time_unix_nano, t.root_span_id))))`;
  const rootSpanId = `CASE WHEN ${takesRoot} THEN EXCLUDED.root_span_id ELSE t.root_span_id END`;
  // The root's name is final once its ended row is stored: a 'started' row or a crash
  // record of the root (named as at start) may come first, and names the trace until then.
  const rootSpanName = `CASE WHEN ${takesRoot}
      OR (EXCLUDED.root_span_ended AND NOT t.root_span_ended AND EXCLUDED.root_span_id = t.root_span_id)
    THEN EXCLUDED.root_span_name ELSE t.root_span_name END`;
  const rootSpanEnded = `CASE WHEN ${takesRoot} THEN EXCLUDED.root_span_ended
    ELSE t.root_span_ended OR (EXCLUDED.root_span_ended AND EXCLUDED.root_span_id = t.root_span_id) END`;
  const rootParentIsRemote = `CASE WHEN ${takesRoot} THEN EXCLUDED.root_parent_is_remote ELSE t.root_parent_is_remote END`;
  const rootStart = `CASE WHEN ${takesRoot} THEN EXCLUDED.root_start_time_unix_nano ELSE t.root_start_time_unix_nano END`;
  return `INSERT INTO ${s}.traces AS t
  (trace_id, service_name, root_span_id, root_span_name, root_span_ended, root_parent_is_remote, root_start_time_unix_nano,
   start_time, start_time_unix_nano, end_time, end_time_unix_nano)
SELECT r.trace_id, r.service_name, r.root_span_id, r.root_span_name, r.root_span_ended, r.root_parent_is_remote, r.root_start_ns,
  ${timestampSql('r.start_ns')}, r.start_ns, ${timestampSql('r.end_ns')}, r.end_ns
FROM ${unnestRows({
    trace_id: '$1::text[]',
    service_name: '$2::text[]',
    root_span_id: '$3::text[]',
    root_span_name: '$4::text[]',
    start_ns: '$5::bigint[]',
    end_ns: '$6::bigint[]',
    root_span_ended: '$7::boolean[]',
    root_parent_is_remote: '$9::boolean[]',
    root_start_ns: '$10::bigint[]',
  })}
ON CONFLICT (trace_id) DO UPDATE SET
  service_name = COALESCE(t.service_name, EXCLUDED.service_name),
  root_span_id = ${rootSpanId},
  root_span_name = ${rootSpanName},
  root_span_ended = ${rootSpanEnded},
  root_parent_is_remote = ${rootParentIsRemote},
  root_start_time_unix_nano = ${rootStart},
  start_time = LEAST(t.start_time, EXCLUDED.start_time),
  start_time_unix_nano = LEAST(t.start_time_unix_nano, EXCLUDED.start_time_unix_nano),
  end_time = GREATEST(t.end_time, EXCLUDED.end_time),
  end_time_unix_nano = GREATEST(t.end_time_unix_nano, EXCLUDED.end_time_unix_nano),
  updated_at = now()
WHERE NOT (EXCLUDED.trace_id = ANY($8::text[]))
  AND (COALESCE(t.service_name, EXCLUDED.service_name), ${rootSpanId},
       ${rootSpanName}, ${rootSpanEnded}, ${rootParentIsRemote}, ${rootStart},
       LEAST(t.start_time_unix_nano, EXCLUDED.start_time_unix_nano),
       GREATEST(t.end_time_unix_nano, EXCLUDED.end_time_unix_nano))
  IS DISTINCT FROM (t.service_name, t.root_span_id, t.root_span_name, t.root_span_ended, t.root_parent_is_remote, t.root_start_time_unix_nano, t.start_time_unix_nano, t.end_time_unix_nano)`;
}

const SPAN_COLUMNS = `trace_id, span_id, parent_span_id, trace_state, name, kind, state,
   start_time, start_time_unix_nano, end_time, end_time_unix_nano, duration_ns,
   status_code, status_message, attributes, resource, service_name, scope_name, scope_version, links,
   dropped_attributes_count, dropped_events_count, dropped_links_count, crash_reason, end_time_estimated,
   parent_is_remote, resource_schema_url, scope_schema_url`;

/**
 * A crash record replacing a span's 'started' row. The crash record was made from the
 * span's START; the 'started' row from the live span, mostly later (pendingSpanMillis on):
 * what it knew that the START did not (attributes set since, links added since, or links
 * at all from an older release's START; what the limits dropped meanwhile) was erased by
 * the replacement (upgrade review). Kept now: the attributes are merged, the row's values
 * winning but for its state marker; the longer list of links and the larger counts stay.
 */
const CRASH_OVER_STARTED = `t.state = 'started' AND EXCLUDED.state = 'crashed'`;
const KEPT_FROM_STARTED: Record<string, string> = {
  attributes: `CASE WHEN ${CRASH_OVER_STARTED} THEN EXCLUDED.attributes || (t.attributes - '${ATTR_SPAN_STATE}') ELSE EXCLUDED.attributes END`,
  links: `CASE WHEN ${CRASH_OVER_STARTED} AND jsonb_array_length(t.links) > jsonb_array_length(EXCLUDED.links) THEN t.links ELSE EXCLUDED.links END`,
  dropped_attributes_count: `CASE WHEN ${CRASH_OVER_STARTED} THEN GREATEST(t.dropped_attributes_count, EXCLUDED.dropped_attributes_count) ELSE EXCLUDED.dropped_attributes_count END`,
  dropped_links_count: `CASE WHEN ${CRASH_OVER_STARTED} THEN GREATEST(t.dropped_links_count, EXCLUDED.dropped_links_count) ELSE EXCLUDED.dropped_links_count END`,
  dropped_events_count: `CASE WHEN ${CRASH_OVER_STARTED} THEN GREATEST(t.dropped_events_count, EXCLUDED.dropped_events_count) ELSE EXCLUDED.dropped_events_count END`,
};

// Every column but the key and inserted_at, replaced only by a higher-ranked state.
const SPAN_UPDATES = SPAN_COLUMNS.split(',')
  .map((c) => c.trim())
  .filter((c) => c !== 'trace_id' && c !== 'span_id')
  .map((c) => `${c} = ${KEPT_FROM_STARTED[c] ?? `EXCLUDED.${c}`}`)
  .join(',\n  ');

/**
 * Parameters $1–$19, $24 and $25 are per span; $20–$23, $26 and $27 hold each distinct
 * resource and scope of the batch once, which the per-span positions $9 and $10 point into. Per-span JSON
 * travels as text and is cast row by row: received as jsonb[], all of a batch's parsed
 * documents were alive at once, and the server's page faults cost about 15% of its time.
 */
export function spansSql(s: QuotedSchema, onConflict: 'upsert' | 'fail' | 'keep'): string {
  const insert = `INSERT INTO ${s}.spans AS t
  (${SPAN_COLUMNS})
SELECT r.trace_id, r.span_id, r.parent_span_id, r.trace_state, r.name,
  ${decodeSql(SPAN_KINDS, 'r.kind')}, ${decodeSql(SPAN_STATES, 'r.state')},
  ${timestampSql('r.start_ns')}, r.start_ns, ${timestampSql('r.end_ns')}, r.end_ns, r.end_ns - r.start_ns,
  ${decodeSql(STATUS_CODES, 'r.status_code')}, r.status_message, r.attributes::jsonb,
  ($20::jsonb[])[r.resource_position], ($21::text[])[r.resource_position],
  ($22::text[])[r.scope_position], ($23::text[])[r.scope_position], r.links::jsonb,
  r.dropped_attributes, r.dropped_events, r.dropped_links, r.crash_reason, r.end_time_estimated,
  r.parent_is_remote, ($26::text[])[r.resource_position], ($27::text[])[r.scope_position]
FROM ${unnestRows({
    trace_id: '$1::text[]',
    span_id: '$2::text[]',
    parent_span_id: '$3::text[]',
    trace_state: '$4::text[]',
    name: '$5::text[]',
    kind: '$6::int[]',
    state: '$7::int[]',
    status_code: '$8::int[]',
    resource_position: '$9::int[]',
    scope_position: '$10::int[]',
    start_ns: '$11::bigint[]',
    end_ns: '$12::bigint[]',
    status_message: '$13::text[]',
    attributes: '$14::text[]',
    links: '$15::text[]',
    dropped_attributes: '$16::int[]',
    dropped_events: '$17::int[]',
    dropped_links: '$18::int[]',
    crash_reason: '$19::text[]',
    end_time_estimated: '$24::boolean[]',
    parent_is_remote: '$25::boolean[]',
  })}`;
  if (onConflict === 'fail') return insert;
  // 'keep': rows that stand for a span known only from its log records; any stored row of
  // that span, whatever its state, knows more.
  if (onConflict === 'keep') return `${insert}
ON CONFLICT (trace_id, span_id) DO NOTHING`;
  // A stand-in row (a span known only from a log record: logRows.ts) ranks as 'started'
  // but knows less than any row of the span itself, its own 'started' row included.
  return `${insert}
ON CONFLICT (trace_id, span_id) DO UPDATE SET
  ${SPAN_UPDATES},
  updated_at = now()
WHERE ${stateRankSql('EXCLUDED.state')} > ${stateRankSql('t.state')}
  OR (${standInSql('t')} AND NOT ${standInSql('EXCLUDED')})`;
}

// Events are keyed by their position in the span, so a replay or a later, fuller version
// of the span only adds the events not yet stored, as long as no event was dropped; the
// final row of a span that dropped events first clears what earlier rows stored
// (eventsReplacedSql).
export function logsSql(s: QuotedSchema, onConflict: 'upsert' | 'fail'): string {
  const insert = `INSERT INTO ${s}.logs
  (trace_id, span_id, event_index, time, time_unix_nano, event_name, attributes, dropped_attributes_count)
SELECT r.trace_id, r.span_id, r.event_index, ${timestampSql('r.time_ns')}, r.time_ns, r.event_name,
  r.attributes::jsonb, r.dropped_attributes
FROM ${unnestRows({
    trace_id: '$1::text[]',
    span_id: '$2::text[]',
    event_index: '$3::int[]',
    time_ns: '$4::bigint[]',
    event_name: '$5::text[]',
    attributes: '$6::text[]',
    dropped_attributes: '$7::int[]',
  })}`;
  return onConflict === 'fail' ? insert : `${insert}
ON CONFLICT (trace_id, span_id, event_index) WHERE kind = 'event' DO NOTHING`;
}

/**
 * Removes the stored events of spans whose final row replaces them (replacesStoredEvents
 * in spanRows.ts): sent only in a batch that holds such a row, after the spans statement
 * and before the events one. The spans statement has locked these spans' rows by then,
 * and every write of a span's events comes after its span row in the same transaction, so
 * this takes no lock that another batch could hold while waiting for one of ours.
 */
export function eventsReplacedSql(s: QuotedSchema): string {
  return `DELETE FROM ${s}.logs AS l
USING ${unnestRows({ trace_id: '$1::text[]', span_id: '$2::text[]' })}
WHERE l.kind = 'event' AND l.trace_id = r.trace_id AND l.span_id = r.span_id`;
}

// Log records are immutable, keyed by the writer that journaled them and their
// sequence there: a replay or a second recovery stores nothing new. $13–$16 and $20–$22
// hold each distinct resource and scope once, like the spans statement. `scopeAttributes`:
// whether the schema has that column (migration 8), which this code writes as well without.
export function logRecordsSql(s: QuotedSchema, onConflict: 'upsert' | 'fail', { scopeAttributes }: { scopeAttributes: boolean }): string {
  const insert = `INSERT INTO ${s}.logs
  (kind, writer_id, sequence, trace_id, span_id, trace_flags, time, time_unix_nano,
   observed_time, observed_time_unix_nano, severity_number, severity_text, body, attributes,
   event_name, dropped_attributes_count, resource, service_name, scope_name, scope_version,
   resource_schema_url, scope_schema_url${scopeAttributes ? ', scope_attributes' : ''})
SELECT 'log', r.writer_id, r.sequence, r.trace_id, r.span_id, r.trace_flags, ${timestampSql('r.time_ns')}, r.time_ns,
  ${timestampSql('r.observed_ns')}, r.observed_ns, r.severity_number, r.severity_text, r.body::jsonb, r.attributes::jsonb,
  r.event_name, r.dropped_attributes, ($13::jsonb[])[r.resource_position], ($14::text[])[r.resource_position],
  ($15::text[])[r.scope_position], ($16::text[])[r.scope_position],
  ($20::text[])[r.resource_position], ($21::text[])[r.scope_position]${scopeAttributes ? ', ($22::jsonb[])[r.scope_position]' : ''}
FROM ${unnestRows({
    writer_id: '$1::text[]',
    sequence: '$2::bigint[]',
    trace_id: '$3::text[]',
    span_id: '$4::text[]',
    trace_flags: '$5::int[]',
    time_ns: '$6::bigint[]',
    observed_ns: '$7::bigint[]',
    severity_number: '$8::int[]',
    severity_text: '$9::text[]',
    body: '$10::text[]',
    attributes: '$11::text[]',
    event_name: '$12::text[]',
    dropped_attributes: '$17::int[]',
    resource_position: '$18::int[]',
    scope_position: '$19::int[]',
  })}`;
  return onConflict === 'fail' ? insert : `${insert}
ON CONFLICT (writer_id, sequence) WHERE kind = 'log' DO NOTHING`;
}

export function deadLetterSql(s: QuotedSchema): string {
  return `INSERT INTO ${s}.dead_letters AS d (trace_id, span_id, record, sql_state, error_message)
VALUES ($1, $2, $3::jsonb, $4, $5)
ON CONFLICT (trace_id, span_id) WHERE kind = 'span' DO UPDATE SET
  record = EXCLUDED.record,
  sql_state = EXCLUDED.sql_state,
  error_message = EXCLUDED.error_message,
  attempts = d.attempts + 1,
  last_seen_at = now()`;
}


export function logDeadLetterSql(s: QuotedSchema): string {
  return `INSERT INTO ${s}.dead_letters AS d (kind, writer_id, sequence, trace_id, span_id, record, sql_state, error_message)
VALUES ('log', $1, $2, $3, $4, $5::jsonb, $6, $7)
ON CONFLICT (writer_id, sequence) WHERE kind = 'log' DO UPDATE SET
  record = EXCLUDED.record,
  sql_state = EXCLUDED.sql_state,
  error_message = EXCLUDED.error_message,
  attempts = d.attempts + 1,
  last_seen_at = now()`;
}
