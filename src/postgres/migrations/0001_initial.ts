// The initial schema. Every key starts with the trace id, so the tables can be distributed
// by trace id (e.g. Citus) and a trace's rows sit together. Ids are lowercase hex text in
// the "C" collation: queryable exactly as users see them in logs, compared bytewise (no
// locale rules in the hottest indexes). No foreign keys: the exporter writes traces, spans
// and logs of a batch in one transaction, and a per-row check would tax every insert.
import type { QuotedSchema } from '../schemaName.js';

export const version = 1;
export const name = 'initial';
/** The data tables it alters, which migrate.ts locks first (none: it makes them). */
export const tables: readonly string[] = [];

export function sql(s: QuotedSchema): string {
  // The schema and the migrations table come first, from bootstrap.ts, run by migrate.ts.
  return `CREATE TABLE ${s}.traces (
  trace_id text COLLATE "C" PRIMARY KEY,
  service_name text,
  root_span_id text COLLATE "C",
  root_span_name text,
  start_time timestamptz NOT NULL,
  start_time_unix_nano bigint NOT NULL,
  end_time timestamptz,
  end_time_unix_nano bigint,
  inserted_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX traces_start_time_idx ON ${s}.traces (start_time);

CREATE TABLE ${s}.spans (
  trace_id text COLLATE "C" NOT NULL,
  span_id text COLLATE "C" NOT NULL,
  parent_span_id text COLLATE "C",
  trace_state text,
  name text NOT NULL,
  kind text NOT NULL,
  state text NOT NULL DEFAULT 'ended' CONSTRAINT spans_state_check CHECK (state IN ('ended', 'crashed', 'started')),
  start_time timestamptz NOT NULL,
  start_time_unix_nano bigint NOT NULL,
  end_time timestamptz,
  end_time_unix_nano bigint,
  duration_ns bigint,
  status_code text NOT NULL DEFAULT 'UNSET',
  status_message text,
  attributes jsonb NOT NULL DEFAULT '{}',
  resource jsonb NOT NULL DEFAULT '{}',
  service_name text,
  scope_name text,
  scope_version text,
  links jsonb NOT NULL DEFAULT '[]',
  dropped_attributes_count integer NOT NULL DEFAULT 0,
  dropped_events_count integer NOT NULL DEFAULT 0,
  dropped_links_count integer NOT NULL DEFAULT 0,
  crash_reason text,
  end_time_estimated boolean NOT NULL DEFAULT false,
  inserted_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trace_id, span_id)
);
-- Children of a span: trace trees are walked with (trace_id, parent_span_id = span_id).
CREATE INDEX spans_parent_idx ON ${s}.spans (trace_id, parent_span_id);
CREATE INDEX spans_start_time_idx ON ${s}.spans (start_time);
-- "What was running when the process died": small, because crashes are rare.
CREATE INDEX spans_crashed_idx ON ${s}.spans (start_time) WHERE state = 'crashed';

-- Span events now; log records later (severity_text, severity_number, body stay NULL for
-- events). event_index is the event's position in its span, which makes replays idempotent.
CREATE TABLE ${s}.logs (
  trace_id text COLLATE "C" NOT NULL,
  span_id text COLLATE "C" NOT NULL,
  event_index integer NOT NULL,
  time timestamptz NOT NULL,
  time_unix_nano bigint NOT NULL,
  event_name text,
  severity_text text,
  severity_number integer,
  body jsonb,
  attributes jsonb NOT NULL DEFAULT '{}',
  dropped_attributes_count integer NOT NULL DEFAULT 0,
  inserted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trace_id, span_id, event_index)
);
-- BRIN: rows arrive roughly in time order, and it costs next to nothing per insert.
CREATE INDEX logs_time_idx ON ${s}.logs USING brin (time);

-- Spans PostgreSQL refused for good (a value it cannot store, a constraint), one row per
-- span however often it is replayed; the rest of their batch was committed.
CREATE TABLE ${s}.dead_letters (
  trace_id text COLLATE "C" NOT NULL,
  span_id text COLLATE "C" NOT NULL,
  record jsonb,
  sql_state text,
  error_message text NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (trace_id, span_id)
);`;
}
