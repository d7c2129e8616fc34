// A trace's root as this database can know it. A service behind another (an incoming HTTP
// request with a `traceparent`, a message from a queue) has no span without a parent: its
// first span's parent is in the other process. Its traces were stored with no root, and
// the viewer listed every one as "(root not recorded)". Such a span (its parent remote,
// migration 5) now names the trace until a span without a parent arrives, which takes
// over: the upstream service writing to the same schema. Of several such spans (the
// service called twice in a trace, or a chain of services whose first is not stored), the
// one that started first names it, ties to the lower span id: whichever way the spans
// were batched, and in whatever order the batches committed, the same row results.
// Rows stored before keep their empty root: filling it in would read the whole spans
// table inside the migration's transaction, while every exporter waits on its lock.
import type { QuotedSchema } from '../schemaName.js';

export const version = 6;
export const name = 'trace_local_root';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['traces'];
/**
 * Older code only ever stores a span without a parent as the root: false, the default, is
 * true of it. It never replaces a stored root, though: a trace whose span with a remote
 * parent was stored by this code keeps that root when older code writes the span without
 * a parent (a rolling upgrade, downstream first), until this code writes a row of it.
 */
export const oldestWriter = 2;

export function sql(s: QuotedSchema): string {
  return `ALTER TABLE ${s}.traces
  ADD COLUMN root_parent_is_remote boolean NOT NULL DEFAULT false,
  ADD COLUMN root_start_time_unix_nano bigint;`;
}
