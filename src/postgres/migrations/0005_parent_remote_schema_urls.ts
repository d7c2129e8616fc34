// What OTLP carries that the rows did not: whether a span's parent came from another
// process (Span.flags bits 8 and 9: an incoming request's context, a message's producer)
// and the schema URLs of a span's or log record's resource and scope (ResourceSpans,
// ScopeSpans, ScopeLogs .schema_url). Null where unknown: no parent, no URL given, or a row
// stored before this migration or by older code.
import type { QuotedSchema } from '../schemaName.js';

export const version = 5;
export const name = 'parent_remote_schema_urls';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['spans', 'logs'];
/** Columns older code does not name are left null by it: it may go on writing. */
export const oldestWriter = 2;

export function sql(s: QuotedSchema): string {
  return `ALTER TABLE ${s}.spans
  ADD COLUMN parent_is_remote boolean,
  ADD COLUMN resource_schema_url text,
  ADD COLUMN scope_schema_url text;
ALTER TABLE ${s}.logs
  ADD COLUMN resource_schema_url text,
  ADD COLUMN scope_schema_url text;`;
}
