// Log records next to span events in `logs`, told apart by `kind`. Written as ALTERs so a
// populated version-1 schema keeps every row: existing rows are span events, which is
// what the column default says.
//
// Keys: a span event is still keyed by its span and its position in it; a log record by
// the journal writer that recorded it and its sequence number there (a replay or a
// second recovery reads the same pair again). A log record outside any span has no trace
// id, so no primary key can include one: both keys are partial unique indexes, and the
// statements name them in ON CONFLICT. Log records of one trace still sit together
// through logs_span_idx.
//
// dead_letters takes log records as well: same split, `kind` 'span' or 'log'.
import type { QuotedSchema } from '../schemaName.js';

export const version = 2;
export const name = 'log_records';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['spans', 'logs', 'dead_letters'];

export function sql(s: QuotedSchema): string {
  return `
ALTER TABLE ${s}.logs
  DROP CONSTRAINT logs_pkey,
  ADD COLUMN kind text NOT NULL DEFAULT 'event' CONSTRAINT logs_kind_check CHECK (kind IN ('event', 'log')),
  ADD COLUMN observed_time timestamptz,
  ADD COLUMN observed_time_unix_nano bigint,
  ADD COLUMN trace_flags integer,
  ADD COLUMN service_name text,
  ADD COLUMN resource jsonb,
  ADD COLUMN scope_name text,
  ADD COLUMN scope_version text,
  ADD COLUMN writer_id text COLLATE "C",
  ADD COLUMN sequence bigint,
  ALTER COLUMN trace_id DROP NOT NULL,
  ALTER COLUMN span_id DROP NOT NULL,
  ALTER COLUMN event_index DROP NOT NULL,
  ADD CONSTRAINT logs_shape_check CHECK (
    (kind = 'event' AND trace_id IS NOT NULL AND span_id IS NOT NULL AND event_index IS NOT NULL)
    OR (kind = 'log' AND writer_id IS NOT NULL AND sequence IS NOT NULL AND (trace_id IS NULL) = (span_id IS NULL))
  );
CREATE UNIQUE INDEX logs_event_key ON ${s}.logs (trace_id, span_id, event_index) WHERE kind = 'event';
CREATE UNIQUE INDEX logs_record_key ON ${s}.logs (writer_id, sequence) WHERE kind = 'log';
-- A span's log lines: "the last log lines of each crash" joins on this.
CREATE INDEX logs_span_idx ON ${s}.logs (trace_id, span_id, time_unix_nano) WHERE kind = 'log';

ALTER TABLE ${s}.dead_letters
  DROP CONSTRAINT dead_letters_pkey,
  ADD COLUMN kind text NOT NULL DEFAULT 'span' CONSTRAINT dead_letters_kind_check CHECK (kind IN ('span', 'log')),
  ADD COLUMN writer_id text COLLATE "C",
  ADD COLUMN sequence bigint,
  ALTER COLUMN trace_id DROP NOT NULL,
  ALTER COLUMN span_id DROP NOT NULL,
  ADD CONSTRAINT dead_letters_shape_check CHECK (
    (kind = 'span' AND trace_id IS NOT NULL AND span_id IS NOT NULL)
    OR (kind = 'log' AND writer_id IS NOT NULL AND sequence IS NOT NULL)
  );
CREATE UNIQUE INDEX dead_letters_span_key ON ${s}.dead_letters (trace_id, span_id) WHERE kind = 'span';
CREATE UNIQUE INDEX dead_letters_log_key ON ${s}.dead_letters (writer_id, sequence) WHERE kind = 'log';

-- "What is running right now": open spans of live processes, a small set.
CREATE INDEX spans_started_idx ON ${s}.spans (start_time) WHERE state = 'started';`;
}
