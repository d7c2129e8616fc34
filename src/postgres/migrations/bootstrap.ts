// What the migration runner needs before it can read which migrations are applied. It
// runs only after the advisory lock is held: concurrent `CREATE SCHEMA IF NOT EXISTS`
// statements race on pg_namespace's unique index (23505) instead of waiting for each other.
import type { QuotedSchema } from '../schemaName.js';

/**
 * `createSchema` false: the schema exists already. PostgreSQL checks CREATE on the database
 * before it looks whether the schema exists, so `CREATE SCHEMA IF NOT EXISTS` failed for a
 * role that owns a schema a DBA made for it (42501) but may not create schemas.
 */
export function bootstrapSql(s: QuotedSchema, { createSchema = true }: { createSchema?: boolean } = {}): string {
  return `${createSchema ? `CREATE SCHEMA IF NOT EXISTS ${s};\n` : ''}CREATE TABLE IF NOT EXISTS ${s}.migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;
}
