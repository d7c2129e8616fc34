// The indexes the viewer's lists read by (migrations 9 to 11), which a schema may lack: a
// role that may not migrate writes on without them, a migration that failed leaves them
// out, a concurrent build that failed leaves one invalid. The pages work without them but
// read the whole table each: a page of crashes took 50 ms at 100,000 crash records against
// 0.1, and the viewer said nothing of why. It now says at start which are missing.
import * as errorSpansIndex from '../postgres/migrations/0009_error_spans_index.js';
import * as logsOutsideSpansIndex from '../postgres/migrations/0010_logs_outside_spans_index.js';
import * as crashesByEndIndex from '../postgres/migrations/0011_crashes_by_end_index.js';
import type { QuotedSchema } from '../postgres/schemaName.js';
import type { ViewerDatabase } from './viewerDatabase.js';

/** Each index, and the list of the viewer's that reads by it. */
const VIEWER_INDEXES = [
  { migration: errorSpansIndex, list: 'traces with an ERROR span' },
  { migration: logsOutsideSpansIndex, list: 'log lines outside spans' },
  { migration: crashesByEndIndex, list: 'crashes' },
] as const;

/**
 * One clause per index the schema lacks, has invalid, or has without its migration recorded
 * (one of another definition, which the migration refuses, or one built by hand and not
 * migrated since: unchecked); none when all are there. Read from the catalog, which any
 * role may read, and the migrations table where this role may read it. Which columns and
 * predicate an index has is not compared here: the migration does that, on a temporary
 * table, which a read-only transaction may not make.
 */
export async function missingViewerIndexes(pool: ViewerDatabase, schema: QuotedSchema): Promise<string[]> {
  const names = VIEWER_INDEXES.map(({ migration }) => `${schema}.${migration.indexName}`);
  const { rows } = await pool.query<{ name: string; valid: boolean | null }>(
    `SELECT n.name, (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(n.name)) AS valid
       FROM unnest($1::text[]) AS n(name)`,
    [names],
  );
  const validity = new Map(rows.map((row) => [row.name, row.valid]));
  const recorded = await recordedVersions(pool, schema);
  return VIEWER_INDEXES.flatMap(({ migration, list }, i) => {
    const valid = validity.get(names[i]!);
    const unrecorded = valid === true && recorded !== undefined && !recorded.has(migration.version);
    if (valid === true && !unrecorded) return [];
    const why = valid === false ? ', invalid' : unrecorded ? ', not recorded by a migration (one of another definition is refused)' : '';
    return [`${migration.indexName} (migration ${migration.version}: ${list})${why}`];
  });
}

/** The versions of the viewer's migrations recorded as applied; undefined where the migrations table cannot be read (a role without SELECT on it). */
async function recordedVersions(pool: ViewerDatabase, schema: QuotedSchema): Promise<Set<number> | undefined> {
  const versions = VIEWER_INDEXES.map(({ migration }) => migration.version);
  try {
    const { rows } = await pool.query<{ version: number }>(`SELECT version FROM ${schema}.migrations WHERE version = ANY($1::int[])`, [versions]);
    return new Set(rows.map((row) => row.version));
  } catch {
    return undefined;
  }
}
