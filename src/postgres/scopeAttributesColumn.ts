// Whether a schema's logs table has migration 8's scope_attributes column. A schema may
// lack it where its users may not migrate: the exporter then writes log rows without it
// (PostgresSpanExporter), and the viewer reads them without it (ui/LogColumns.ts).
import type pg from 'pg';
import { SQLSTATE, sqlStateOf } from './sqlState.js';
import type { QuotedSchema } from './schemaName.js';

/** A pool, or the viewer's read-only queries. */
export interface CatalogReader {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/**
 * Read from the catalog, which any role may read: not from `migrations` (a role that may
 * not read it never wrote the column again, and a schema restored without the column but
 * listing migration 8 switched back and forth: a review). Throws what the query throws.
 */
export async function hasScopeAttributesColumn(db: CatalogReader, schema: QuotedSchema): Promise<boolean> {
  const { rows } = await db.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'scope_attributes' AND NOT attisdropped) AS present`,
    [`${schema}.logs`],
  );
  return rows[0]?.present === true;
}

/** A statement that named logs.scope_attributes where the schema has no such column (42703). */
export function lacksScopeAttributes(error: unknown): boolean {
  return sqlStateOf(error) === SQLSTATE.UNDEFINED_COLUMN && /scope_attributes/.test((error as Error)?.message ?? '');
}
