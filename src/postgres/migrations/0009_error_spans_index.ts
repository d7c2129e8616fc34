// The spans whose status is ERROR, by trace: for the viewer's list of traces that hold one
// (`otel-blackbox ui`, "with an ERROR span"). Without it that list walked every trace,
// newest first, and read each one's spans until it found 50 with an error: rare errors
// made it a read of the whole table. Partial, as spans_crashed_idx is: only ERROR rows
// enter it, so a batch of spans that went well pays one predicate per row. Building it
// reads the spans table once, under a lock that holds writers back meanwhile (0.22 s for a
// million spans, 460 MB, read from the page cache here; a table not in memory takes as
// long as reading it from disk). Their spans wait in the journal: nothing is lost.
import type { QuotedSchema } from '../schemaName.js';
import { indexIfNotExistsSql } from './validIndex.js';

export const version = 9;
export const name = 'error_spans_index';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['spans'];
/** Writers of any version write as before. */
export const oldestWriter = 2;
/** Only the viewer reads it, and works without it (more slowly): a role that may not apply it writes on. */
export const neededToWrite = false;
/** The index it builds, which the viewer looks for at start (ui/viewerIndexes.ts). */
export const indexName = 'spans_error_idx';

export function sql(s: QuotedSchema): string {
  // Built beforehand CONCURRENTLY, it is recorded (validIndex.ts), unless invalid or of another definition.
  return indexIfNotExistsSql(s, { version, name: indexName, table: 'spans', definition: `(trace_id) WHERE status_code = 'ERROR'` });
}
