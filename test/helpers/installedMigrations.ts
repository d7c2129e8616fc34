// A schema as past releases' migrations left it: the bootstrap, then the migrations
// `applies` takes, each recorded as the release of its time recorded it (without
// oldest_writer), so that a test can upgrade it, or write to it as it is.
import { bootstrapStatement, migrationStatements } from '../../src/postgres/migrate.js';
import type { TestDatabase } from './database.js';

export async function installMigrations(db: TestDatabase, schema: string, applies: (version: number) => boolean): Promise<void> {
  await db.query(bootstrapStatement(schema));
  for (const migration of migrationStatements(schema).filter((m) => applies(m.version))) {
    await db.query(migration.sql);
    await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
  }
}
