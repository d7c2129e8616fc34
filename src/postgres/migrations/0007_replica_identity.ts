// Tables without a primary key (logs, dead_letters: their keys are partial unique indexes,
// one per kind) have no replica identity. Once a publication holds them (change data
// capture, an upgrade by logical replication), PostgreSQL refuses every UPDATE and DELETE
// of theirs (55000): the removal of a span's stored events when its final row replaces
// them failed its batch at every retry, which held export up for good, and `prune` failed
// outright (an attack). The whole old row identifies one instead: a catalog change, no
// rewrite; it costs nothing below wal_level=logical, and there only on those statements.
import type { QuotedSchema } from '../schemaName.js';

export const version = 7;
export const name = 'replica_identity';
/** The data tables it alters, which migrate.ts locks first, in a batch's order. */
export const tables: readonly string[] = ['logs', 'dead_letters'];
/** Writers of any version write these tables as before. */
export const oldestWriter = 2;
/** Nor does this code need it, but where the tables are published: a role that may not apply it writes on. */
export const neededToWrite = false;

export function sql(s: QuotedSchema): string {
  return `ALTER TABLE ${s}.logs REPLICA IDENTITY FULL;
ALTER TABLE ${s}.dead_letters REPLICA IDENTITY FULL;`;
}
