// One index fewer on spans. spans_parent_idx (trace_id, parent_span_id) served no query of
// ours: the viewer and the command line read a trace's spans by trace id and build the
// tree themselves, and the primary key (trace_id, span_id) answers "trace_id = $1" just as
// well. It was paid on every insert: with trace ids random, each row went to a random leaf
// of one more text index, about a quarter of the database's CPU per span in a COPY of
// recovered rows (bench/recovery.mjs). "Children of a span" still uses the primary key's
// trace id prefix and reads that trace's spans.
import type { QuotedSchema } from '../schemaName.js';

export const version = 3;
export const name = 'lean_span_indexes';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['spans'];
/** Code of schema version 2 uses no such index: it may go on writing. */
export const oldestWriter = 2;

export function sql(s: QuotedSchema): string {
  return `DROP INDEX IF EXISTS ${s}.spans_parent_idx;`;
}
