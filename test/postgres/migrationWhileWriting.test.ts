// A rolling upgrade: code of schema version 2 may go on writing while a newer release
// migrates (oldest_writer). A batch locks traces, then spans, then logs; migrations 3 and 4
// altered spans and then traces, so a batch that had written its trace row waited for
// spans while the migration held spans and waited for traces: one of them was killed by
// the deadlock detector, every time (an attack on a database at scale). The migration now
// takes its tables' locks first, in the batches' order.
import { afterAll, expect, it } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { installMigrations } from '../helpers/installedMigrations.js';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();

afterAll(async () => {
  await db.close();
});

/** Installs versions 1 to `version` as the releases of those versions did (and those `also` names). */
function installUpTo(schema: string, version: number, also: number[] = []): Promise<void> {
  return installMigrations(db, schema, (v) => v <= version || also.includes(v));
}

it("migrates while a batch of a version-2 writer is under way, and neither is killed: the batch's trace row first, then its span", async () => {
  const schema = await db.freshSchema('migration_while_writing');
  await installUpTo(schema, 2);
  const writer = await db.pool.connect();
  try {
    await writer.query('BEGIN');
    await writer.query(`INSERT INTO "${schema}".traces (trace_id, start_time, start_time_unix_nano) VALUES ('a1', now(), 1)`);

    const migrating = migrateSchema(db.pool, schema, { tableLockWaitMillis: 10_000 });
    const failure = migrating.then(
      () => undefined,
      (error: unknown) => error,
    );
    // The migration waits for the batch's lock on traces.
    await expect
      .poll(async () => {
        const waiting = await db.count(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%"${schema}"%`]);
        return waiting > 0 || (await Promise.race([failure, Promise.resolve('pending')])) !== 'pending';
      })
      .toBe(true);

    // The batch goes on to its span, and commits (past deadlock_timeout: a cycle would have been found).
    await writer.query(`INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, start_time, start_time_unix_nano) VALUES ('a1', 'b1', 'GET', 'SERVER', now(), 1)`);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    await writer.query('COMMIT');

    expect(await failure).toBeUndefined();
    expect(await migrating).toEqual({ applied: [3, 4, 5, 6, 7, 8, 9, 10, 11] });
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = 'a1'`)).toBe(1);
  } finally {
    await writer.query('ROLLBACK').catch(() => {});
    writer.release();
  }
});

it('locks only the tables its migrations alter: a batch holding spans (a refused record isolated: its span rows) does not hold up migrations 6 to 8 and 10', async () => {
  const schema = await db.freshSchema('migration_locks_only_its_tables');
  // Migrations 9 and 11 index spans: applied already, as if they had come first.
  await installUpTo(schema, 5, [9, 11]);
  const writer = await db.pool.connect();
  try {
    await writer.query('BEGIN');
    await writer.query(`INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, start_time, start_time_unix_nano) VALUES ('a2', 'b3', 'GET', 'SERVER', now(), 1)`);
    // Migration 6 alters traces, 7 logs and dead_letters, 8 and 10 logs: were they to wait for spans, they would fail here.
    expect(await migrateSchema(db.pool, schema, { tableLockWaitMillis: 500 })).toEqual({ applied: [6, 7, 8, 10] });
    await writer.query('COMMIT');
  } finally {
    await writer.query('ROLLBACK').catch(() => {});
    writer.release();
  }
});
