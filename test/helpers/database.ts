// A schema per test file (named after it), so files run in parallel and never see each
// other's rows. The schema is dropped before use, so a rerun starts clean.
import pg from 'pg';
import { inject } from 'vitest';

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
