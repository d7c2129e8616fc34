// A batch's spans and rows must not outlive the turn of the event loop its export started
// in when the batch is small enough: alive across turns while the host's own work sets off
// scavenges, they are promoted to the old generation (bench/overload.mjs). A batch far
// beyond that must still let the event loop run (bench/recovery.mjs measures the stall).
// Seen from outside: how many turns of the event loop ran between the call that makes the
// batch's spans and the exporter asking its pool for a connection (after every row is
// bound)? Before the exporter bound on a turn budget it yielded every four columns: even 64
// spans crossed seven turns. A small batch may still see one, if a garbage-collection pause
// lands in it and uses up the budget.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { expect, test } from 'vitest';
import { exportWithLogs } from '../../src/export/exportWithLogs.js';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { traceOf } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'batch_one_turn', (name) => (schema = name));

/** Exports `spans` as the processor does (made by a function) and counts the turns of the event loop between making them and checking out a connection. */
async function turnsWhileBinding(spans: ReadableSpan[]): Promise<number> {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  let turns = 0;
  let turnsAtConnect: number | undefined;
  const countTurn = () => {
    if (turnsAtConnect !== undefined) return;
    turns += 1;
    setImmediate(countTurn);
  };
  const connect = pool.connect.bind(pool);
  pool.connect = (() => {
    turnsAtConnect ??= turns;
    return connect();
  }) as typeof pool.connect;
  const exporter = new PostgresSpanExporter({ pool, schema, migrate: false });
  try {
    const made = () => {
      setImmediate(countTurn);
      return spans;
    };
    expect(await exportWithLogs(exporter, undefined, made, spans.length, undefined, 60_000)).toEqual({ ok: true });
    const traceId = spans[0].spanContext().traceId;
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [traceId])).toBe(spans.length);
    expect(turnsAtConnect).toBeDefined();
    return turnsAtConnect!;
  } finally {
    await exporter.shutdown();
    await pool.end();
  }
}

test('a small batch goes from spans to bound parameters within the turn its export started in', async () => {
  expect(await turnsWhileBinding(await traceOf(64, 'one-turn'))).toBeLessThanOrEqual(1);
});

test('a batch far beyond a turn of work lets the event loop run while it is converted and bound', async () => {
  // 20,000 spans take well over the budget on any machine (~2 µs a span at the very least).
  expect(await turnsWhileBinding(await traceOf(20_000, 'many-turns'))).toBeGreaterThanOrEqual(2);
}, 120_000);
