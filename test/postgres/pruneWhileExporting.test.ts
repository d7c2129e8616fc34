// Prune while exporters write late spans, events and log records (some through stand-in
// rows) into the very traces it removes. Afterwards no span, event or log record may be
// left without its trace row: such rows are shown nowhere and no later prune finds them.
// The first version locked the traces and deleted their rows in one statement, whose
// snapshot missed rows an exporter committed just before the lock (a review found 6 such
// spans in 20 s of this).
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { randomBytes } from 'node:crypto';
import { afterAll, expect, test } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { pruneSchema } from '../../src/postgres/prune.js';
import { quoteSchema } from '../../src/postgres/schemaName.js';
import { deadLetterSql } from '../../src/postgres/statementSql.js';
import pg from 'pg';
import { TestDatabase } from '../helpers/database.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { recordSpans } from './spanFixtures.js';

const db = new TestDatabase();
afterAll(() => db.close());
const DAY = 86_400_000;
const TRACES = 1500;
const WRITERS = 3;
const WRITING_MS = 6000;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

test('exporters writing into the traces being pruned leave no row without its trace, and nothing fails', async () => {
  const schema = await db.freshSchema('prune_while_exporting');
  await migrateSchema(db.pool, schema);
  const cutoff = () => new Date(Date.now() - 7 * DAY);
  const base = Date.now() - 10 * DAY;
  const traceIds = Array.from({ length: TRACES }, () => hex(16));
  const rootOf = new Map(traceIds.map((traceId) => [traceId, hex(8)]));
  const startOf = new Map(traceIds.map((traceId, i) => [traceId, base + i * 10]));
  /** Each trace's root (its parent remote, so its id is known), or a late child of it, 10 days old. */
  const spansOf = (ids: string[], late: boolean) =>
    recordSpans((tracer) => {
      for (const traceId of ids) {
        const start = startOf.get(traceId)!;
        const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: rootOf.get(traceId)!, traceFlags: TraceFlags.SAMPLED, isRemote: !late });
        const span = tracer.startSpan(late ? 'late child' : 'root', { startTime: start + (late ? 10 : 0) }, parent);
        span.addEvent('checkpoint', {}, start + 11);
        span.end(start + 20);
      }
    });
  const seeder = new PostgresSpanExporter({ connectionString: db.url, schema });
  for (let i = 0; i < TRACES; i += 500) expect((await exportBatch(seeder, await spansOf(traceIds.slice(i, i + 500), false), [])).error).toBeUndefined();
  await seeder.shutdown();

  const errors: string[] = [];
  let writing = true;
  let batchesWritten = 0;
  let pruned = 0;
  const writer = async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    while (writing) {
      const ids = [...new Set(Array.from({ length: 20 }, () => traceIds[Math.floor(Math.random() * TRACES)]!))];
      const spans = await spansOf(ids, true);
      const lines = await logRecords([
        { record: { body: 'in a late span', timestamp: startOf.get(ids[0]!)! + 12, observedTimestamp: startOf.get(ids[0]!)! + 12 }, in: spans[0]!.spanContext() },
        // In a span the batch does not carry: written with a stand-in row of it.
        { record: { body: 'in a span known from this line', timestamp: startOf.get(ids[1] ?? ids[0]!)! + 13, observedTimestamp: startOf.get(ids[1] ?? ids[0]!)! + 13 }, in: { traceId: ids[1] ?? ids[0]!, spanId: hex(8), traceFlags: 1, isRemote: false } },
      ]);
      const result = await exportBatch(exporter, spans, lines);
      if (result.error) errors.push(`export: ${result.error.message}`);
      else batchesWritten += 1;
    }
    await exporter.shutdown();
  };
  const pruner = async () => {
    while (writing) {
      try {
        pruned += (await pruneSchema(db.pool, schema, { olderThan: cutoff(), batch: 200 })).traces;
      } catch (error) {
        errors.push(`prune: ${(error as Error).message}`);
      }
    }
  };
  const stop = setTimeout(() => (writing = false), WRITING_MS);
  await Promise.all([pruner(), ...Array.from({ length: WRITERS }, writer)]);
  clearTimeout(stop);

  expect(errors).toEqual([]);
  expect(batchesWritten).toBeGreaterThan(10);
  expect(pruned).toBeGreaterThan(0);
  const s = `"${schema}"`;
  const orphans = await db.query(
    `SELECT (SELECT count(*) FROM ${s}.spans sp WHERE NOT EXISTS (SELECT 1 FROM ${s}.traces t WHERE t.trace_id = sp.trace_id))::int AS spans,
            (SELECT count(*) FROM ${s}.logs l WHERE l.trace_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.traces t WHERE t.trace_id = l.trace_id))::int AS logs`,
  );
  expect(orphans).toEqual([{ spans: 0, logs: 0 }]);
  // And a last prune, with nothing writing, leaves nothing older behind.
  await pruneSchema(db.pool, schema, { olderThan: cutoff() });
  expect(await db.count(`SELECT count(*) FROM ${s}.spans`)).toBe(0);
  expect(await db.count(`SELECT count(*) FROM ${s}.logs`)).toBe(0);
}, 120_000);

test('a dead letter an exporter is upserting is left for the next run, not waited for: prune finishes while that transaction is open', async () => {
  // Waited for, the delete of a window could deadlock with an exporter upserting two dead
  // letters in the other order (a review reproduced it: prune failed with 40P01).
  const schema = await db.freshSchema('prune_dead_letters_locked');
  await migrateSchema(db.pool, schema);
  const s = quoteSchema(schema);
  const [held, free] = ['a'.repeat(32), 'b'.repeat(32)];
  await db.query(
    `INSERT INTO ${s}.dead_letters (trace_id, span_id, error_message, first_seen_at, last_seen_at)
     VALUES ($1, $3, 'free', now() - interval '9 days', now() - interval '9 days'), ($2, $3, 'held', now() - interval '9 days', now() - interval '9 days')`,
    [free, held, '1'.repeat(16)],
  );
  const exporter = new pg.Client({ connectionString: db.url });
  await exporter.connect();
  try {
    await exporter.query('BEGIN');
    await exporter.query(deadLetterSql(s), [held, '1'.repeat(16), null, '22P02', 'refused again']);
    const report = await Promise.race([
      pruneSchema(db.pool, schema, { olderThan: new Date(Date.now() - 7 * DAY) }),
      new Promise<string>((resolve) => setTimeout(resolve, 30_000, 'prune waited for the exporter')),
    ]);
    expect(report).toMatchObject({ deadLetters: 1 });
    await exporter.query('COMMIT');
  } finally {
    await exporter.end();
  }
  expect((await db.query(`SELECT error_message FROM ${s}.dead_letters`)).map((row) => row.error_message)).toEqual(['refused again']);
}, 60_000);
