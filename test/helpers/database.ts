// A schema per test file (named after it), so files run in parallel and never see each
// other's rows. The schema is dropped before use, so a rerun starts clean.
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';

export function databaseUrl(): string {
  return inject('databaseUrl');
}

export function schemaNameFor(label: string): string {
  const cleaned = label.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return `t_${cleaned}`.slice(0, 50);
}

export class TestDatabase {
  readonly pool: pg.Pool;
  readonly url: string;

  constructor() {
    this.url = databaseUrl();
    this.pool = new pg.Pool({ connectionString: this.url, max: 4 });
    this.pool.on('error', () => {});
  }

  async freshSchema(label: string): Promise<string> {
    const schema = schemaNameFor(label);
    await this.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    return schema;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    const result = await this.pool.query<R>(sql, params);
    return result.rows;
  }

  async count(sql: string, params: unknown[] = []): Promise<number> {
    const rows = await this.query<{ count: string }>(sql, params);
    return Number(rows[0]?.count ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * For a test file: a fresh schema with our tables, made before its tests and handed to
 * `ready`; the file's connections are closed after its tests.
 */
export function useMigratedSchema(db: TestDatabase, label: string, ready: (schema: string) => void): void {
  beforeAll(async () => {
    const schema = await db.freshSchema(label);
    await migrateSchema(db.pool, schema);
    ready(schema);
  });
  afterAll(() => db.close());
}
