// The log lines no span row shows (outside any span, or in a span not sampled), by time:
// for the viewer's list of them, newest first. Without it that list read the whole logs
// table to sort it (logs_time_idx is a BRIN index: it finds ranges, it gives no order).
// Partial: a line in a sampled span, most of them, pays one predicate; the others one
// index entry at the right edge of a time-ordered index. Its predicate is the viewer's
// (src/ui/logsOutsideSpans.ts, OUTSIDE_SAMPLED_SPANS), written out here: a migration
// applied once does not change with the code.
import type { QuotedSchema } from '../schemaName.js';
import { indexIfNotExistsSql } from './validIndex.js';

export const version = 10;
export const name = 'logs_outside_spans_index';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['logs'];
/** Writers of any version write as before. */
export const oldestWriter = 2;
/** Only the viewer reads it, and works without it (more slowly): a role that may not apply it writes on. */
export const neededToWrite = false;
/** The index it builds, which the viewer looks for at start (ui/viewerIndexes.ts). */
export const indexName = 'logs_outside_spans_idx';

export function sql(s: QuotedSchema): string {
  // Built beforehand CONCURRENTLY, it is recorded (validIndex.ts), unless invalid or of another definition.
  return indexIfNotExistsSql(s, { version, name: indexName, table: 'logs', definition: `(time)
    WHERE kind = 'log' AND (trace_id IS NULL OR NOT COALESCE(trace_flags, 1) & 1 = 1)` });
}
