// Crash records by their end, latest first: for the viewer's list of crashes and
// `otel-blackbox crashes`, which order them so (a crash record's end is its process's last
// sign of life). spans_crashed_idx has their starts, which give no such order, so each page
// read every crash record and sorted them: 5,278 buffers and 50 ms a page at 100,000 crash
// records, growing with each crash of a crash loop, against 6 and 0.1 ms through this index.
// Partial, as spans_crashed_idx is: a span that ended pays one predicate. Its order is the
// queries' own, NULLS LAST as the CLI's is, so a page is a walk from the cursor. Building it
// holds writers back while it reads the spans table once (see 0009); their spans wait in the
// journal.
import type { QuotedSchema } from '../schemaName.js';
import { indexIfNotExistsSql } from './validIndex.js';

export const version = 11;
export const name = 'crashes_by_end_index';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['spans'];
/** Writers of any version write as before. */
export const oldestWriter = 2;
/** Only the viewer and the CLI read it, and work without it (more slowly): a role that may not apply it writes on. */
export const neededToWrite = false;
/** The index it builds, which the viewer looks for at start (ui/viewerIndexes.ts). */
export const indexName = 'spans_crashes_by_end_idx';

export function sql(s: QuotedSchema): string {
  // Built beforehand CONCURRENTLY, it is recorded (validIndex.ts), unless invalid or of another definition.
  return indexIfNotExistsSql(s, { version, name: indexName, table: 'spans', definition: `(end_time_unix_nano DESC NULLS LAST, trace_id DESC, span_id DESC)
    WHERE state = 'crashed'` });
}
