// What the migration runner needs before it can read which migrations are applied. It
// runs only after the advisory lock is held: concurrent `CREATE SCHEMA IF NOT EXISTS`
// statements race on pg_namespace's unique index (23505) instead of waiting for each other.
import type { QuotedSchema } from '../schemaName.js';

export function bootstrapSql(s: QuotedSchema): string {
  return `CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`;
}
