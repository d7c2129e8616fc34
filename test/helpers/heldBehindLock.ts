// For tests that check what an export keeps alive while its transaction waits on the
// database: a real table lock holds the transaction up, and a real full collection shows
// which of the spans it made are still reachable.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pg from 'pg';
import { expect } from 'vitest';
import type { TestDatabase } from './database.js';

/** The collector, on demand (the flag must be set before the function is made). */
export function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Two full collections with a turn of the event loop between them (finalizers, weak references). */
export async function collectFully(gc: () => void): Promise<void> {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

/** A client holding `table` locked in a transaction until `release()`. */
export async function lockTable(db: TestDatabase, table: string): Promise<{ release: () => Promise<void>; end: () => Promise<void> }> {
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  await locker.query('BEGIN');
  await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    release: async () => void (await locker.query('ROLLBACK')),
    end: () => locker.end(),
  };
}

/** Resolves once a connection named `applicationName` waits on a lock. */
export async function waitingOnLock(db: TestDatabase, applicationName: string): Promise<void> {
  await expect
    .poll(() => db.count(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, [applicationName]), {
      timeout: 20_000,
    })
    .toBe(1);
}
