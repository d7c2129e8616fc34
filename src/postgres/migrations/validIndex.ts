// The viewer's indexes (migrations 9 to 11) are CREATE INDEX IF NOT EXISTS, so that one
// built beforehand CONCURRENTLY, holding no writer back, is recorded rather than refused.
// A concurrent build that failed (a statement_timeout, a cancel) leaves an index of that
// name marked invalid, which no query uses: recorded, a page of crashes read every crash
// record (74 ms and 10,275 buffers against 0.1 ms, a review), and no migration came back to
// it. Such an index fails the migration instead, saying what to do.
import type { QuotedSchema } from '../schemaName.js';

/** `CREATE INDEX IF NOT EXISTS <name> <definition>`, then a failure (SQLSTATE 55000) where the index of that name is invalid. */
export function indexIfNotExistsSql(s: QuotedSchema, name: string, definition: string): string {
  return `CREATE INDEX IF NOT EXISTS ${name} ${definition};
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('${s}.${name}') AND NOT indisvalid) THEN
    RAISE EXCEPTION 'index ${name} of schema ${s.replaceAll('"', '')} is invalid (a CREATE INDEX CONCURRENTLY that failed): drop it, then migrate again' USING ERRCODE = '55000';
  END IF;
END $$;`;
}
