// A schema that holds another tool's migrations table: the exporter's failure is one
// sentence after another, each ending in one full stop.
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
afterAll(() => db.close());

it('says the schema is not ours without a doubled full stop', async () => {
  const schema = await db.freshSchema('foreign_schema_message');
  await db.query(`CREATE SCHEMA "${schema}"`);
  await db.query(`CREATE TABLE "${schema}".migrations (id serial PRIMARY KEY, migration text, batch integer)`);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    const result = await exportSpans(exporter, await traceOf(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    const message = result.error!.message;
    expect(message).toContain('refusing to touch it. Nothing was written.');
    expect(message).not.toMatch(/\.\./);
  } finally {
    await exporter.shutdown();
  }
});
