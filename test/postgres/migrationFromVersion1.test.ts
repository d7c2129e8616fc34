// Migrations 2 to 4 upgrade a populated version-1 schema in place: every row of every
// table is still there, unchanged, and the upgraded schema takes log records and replays
// as before.
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { bootstrapStatement, migrateSchema, migrationStatements } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { exportSpans, ids, traceOf } from './spanFixtures.js';

const db = new TestDatabase();

afterAll(async () => {
  await db.close();
});

/** Installs version 1 exactly as a version-1 release did: its SQL and its migrations row. */
async function installVersion1(schema: string): Promise<void> {
  const v1 = migrationStatements(schema).find((m) => m.version === 1);
  await db.query(bootstrapStatement(schema));
  await db.query(v1!.sql);
  await db.query(`INSERT INTO "${schema}".migrations (version, name) VALUES (1, 'initial')`);
}

async function rowsOf(schema: string, table: string): Promise<unknown[]> {
  const rows = await db.query<{ row: unknown }>(`SELECT to_jsonb(t) AS row FROM "${schema}".${table} t ORDER BY to_jsonb(t)::text`);
  return rows.map((r) => r.row);
}

const V1_TABLES = ['traces', 'spans', 'logs', 'dead_letters'];

describe('migration from version 1', () => {
  it('keeps every row of a populated version-1 schema, then takes log records', async () => {
    const schema = await db.freshSchema('migration_from_v1');
    await installVersion1(schema);
    // Rows as version 1 stored them: 200 spans with one event each, and a dead letter.
    const spans = await traceOf(200, 'v1');
    await db.query(
      `INSERT INTO "${schema}".traces (trace_id, service_name, root_span_id, root_span_name, start_time, start_time_unix_nano)
       VALUES ($1, 'checkout', $2, 'v1-root', now(), 1763790123456789123)`,
      [ids(spans[0]!).traceId, ids(spans.at(-1)!).spanId],
    );
    for (const [i, span] of spans.entries()) {
      const { traceId, spanId } = ids(span);
      await db.query(
        `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, attributes)
         VALUES ($1, $2, $3, 'INTERNAL', $4, now(), $5, $6)`,
        [traceId, spanId, span.name, i % 10 === 0 ? 'crashed' : 'ended', `17637901234567${String(i).padStart(5, '0')}`, { i }],
      );
      await db.query(
        `INSERT INTO "${schema}".logs (trace_id, span_id, event_index, time, time_unix_nano, event_name, attributes)
         VALUES ($1, $2, 0, now(), 1763790123456789124, 'checkpoint', $3)`,
        [traceId, spanId, { step: i }],
      );
    }
    await db.query(`INSERT INTO "${schema}".dead_letters (trace_id, span_id, record, sql_state, error_message) VALUES ('ab', 'cd', '{}', '23514', 'refused')`);
    const before = Object.fromEntries(await Promise.all(V1_TABLES.map(async (t) => [t, await rowsOf(schema, t)] as const)));

    expect(await db.count(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'spans_parent_idx'`, [schema])).toBe(1);
    expect(await migrateSchema(db.pool, schema)).toEqual({ applied: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11] });
    // Migration 3: the index no query used is gone, the primary key still finds a trace's spans.
    expect(await db.count(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'spans_parent_idx'`, [schema])).toBe(0);

    for (const table of V1_TABLES) {
      const after = await rowsOf(schema, table);
      expect(after, table).toHaveLength(before[table]!.length);
      // Every version-1 column keeps its value; the new columns hold their defaults.
      const defaults = table === 'logs' ? { kind: 'event' } : table === 'dead_letters' ? { kind: 'span' } : table === 'traces' ? { root_span_ended: false } : {};
      expect(after.map((row) => pick(row, before[table]![0]))).toEqual(before[table]);
      for (const row of after) expect(row).toMatchObject(defaults);
    }
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs`)).toBe(200);

    // The upgraded schema: replaying a stored span adds no event twice; log records go in.
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    try {
      expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
      expect(await db.count(`SELECT count(*) FROM "${schema}".logs`)).toBe(200);
      expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`)).toBe(0);
      const logs = await logRecords([{ record: { body: 'after the upgrade' }, in: spans[3]!.spanContext() }, { record: { body: 'outside' } }]);
      expect((await exportBatch(exporter, [], logs)).code).toBe(ExportResultCode.SUCCESS);
      expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log'`)).toBe(2);
    } finally {
      await exporter.shutdown();
    }
  });
});

/** The fields of `row` that `like` has. */
function pick(row: unknown, like: unknown): unknown {
  const source = row as Record<string, unknown>;
  return Object.fromEntries(Object.keys(like as object).map((key) => [key, source[key]]));
}
