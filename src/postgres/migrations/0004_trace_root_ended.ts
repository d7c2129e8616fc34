// Whether a trace's root_span_name is final. A root's name can change while it runs (HTTP
// instrumentations rename `GET` to `GET /users/:id` once the route is known), and a row of
// the running root (a 'started' row for a log line or a long request) often reaches the
// database first: the trace kept that first name for good. The root's ended row now names
// the trace, once; started rows and crash records (named as at start) no longer can.
import type { QuotedSchema } from '../schemaName.js';

export const version = 4;
export const name = 'trace_root_ended';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['traces'];
/** Code of schema version 2 writes traces without the column (false: the name stays as it was): it may go on writing. */
export const oldestWriter = 2;

// Also where migrations start recording which older code may go on writing after them
// (migrate.ts, Migration.oldestWriter): code that does not know a migration reads it there.
export function sql(s: QuotedSchema): string {
  return `ALTER TABLE ${s}.traces ADD COLUMN root_span_ended boolean NOT NULL DEFAULT false;
ALTER TABLE ${s}.migrations ADD COLUMN oldest_writer integer;`;
}
