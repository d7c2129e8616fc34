// The viewer's indexes (migrations 9 to 11) are CREATE INDEX IF NOT EXISTS, so that one
// built beforehand CONCURRENTLY, holding no writer back, is recorded rather than refused.
// Two kinds of index of that name were recorded as well, and no list read by them:
// - one a concurrent build that failed (a statement_timeout, a cancel) left invalid: a page
//   of crashes read every crash record (74 ms and 10,275 buffers against 0.1 ms, a review);
// - one of another definition: other columns, another order or another predicate (a typo
//   in the statement built by hand; a review).
// Either now fails the migration, saying what to do. The definition is compared with the
// one this server makes of the migration's own statement, run on an empty copy of the
// table that the migration's transaction drops: no text of ours to drift from how a
// PostgreSQL version prints a predicate. A role that may not create temporary tables skips
// that comparison.
import type { QuotedSchema } from '../schemaName.js';

/** What the migration builds: `CREATE INDEX IF NOT EXISTS <name> ON <schema>.<table> <definition>`. */
export interface ViewerIndex {
  /** The migration's version, for the message. */
  version: number;
  name: string;
  table: string;
  /** What follows the table: columns, then `WHERE` and the predicate. */
  definition: string;
}

/**
 * An index's definition after its table (`btree (trace_id) WHERE (...)`), UNIQUE first
 * where it is. The first ' USING ' is the one after the table: schema names are plain
 * identifiers (schemaName.ts), and the reference's table is in pg_temp.
 */
const definitionOf = (index: string): string =>
  `(SELECT CASE WHEN indisunique THEN 'UNIQUE ' ELSE '' END || substr(pg_get_indexdef(indexrelid), strpos(pg_get_indexdef(indexrelid), ' USING ') + 7) FROM pg_index WHERE indexrelid = ${index})`;

/** The statements that build the index, or fail (SQLSTATE 55000) where one of its name is invalid or of another definition. */
export function indexIfNotExistsSql(s: QuotedSchema, index: ViewerIndex): string {
  const { version, name, table, definition } = index;
  const schema = s.replaceAll('"', '');
  return `CREATE INDEX IF NOT EXISTS ${name} ON ${s}.${table} ${definition};
DO $$
DECLARE
  found text;
  wanted text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('${s}.${name}') AND NOT indisvalid) THEN
    RAISE EXCEPTION 'index ${name} of schema ${schema} is invalid (a CREATE INDEX CONCURRENTLY that failed): drop it, then migrate again' USING ERRCODE = '55000';
  END IF;
  IF has_database_privilege(current_database(), 'TEMP') THEN
    CREATE TEMP TABLE otel_blackbox_index_reference (LIKE ${s}.${table}) ON COMMIT DROP;
    CREATE INDEX otel_blackbox_index_reference_idx ON pg_temp.otel_blackbox_index_reference ${definition};
    found := ${definitionOf(`to_regclass('${s}.${name}')`)};
    wanted := ${definitionOf(`'pg_temp.otel_blackbox_index_reference_idx'::regclass`)};
    DROP TABLE pg_temp.otel_blackbox_index_reference;
    IF found IS DISTINCT FROM wanted THEN
      RAISE EXCEPTION 'index ${name} of schema ${schema} is not the one migration ${version} builds: it is %, not %: drop it, then migrate again', found, wanted USING ERRCODE = '55000';
    END IF;
  END IF;
END $$;`;
}
