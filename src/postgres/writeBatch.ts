// One batch, one transaction. The fast path writes everything at once; only when
// PostgreSQL refuses a record is the batch rolled back and written again, record errors
// isolated (isolateBadRecords.ts), in a second transaction. Any other failure rolls back
// and is thrown: nothing of the batch is left half-written.
import type pg from 'pg';
import { isolateBadRecords } from './isolateBadRecords.js';
import { classifyError, sqlStateOf } from './sqlState.js';
import type { SpanRow } from './spanRows.js';
import type { Statements } from './statements.js';
import { writeRows } from './writeRows.js';

export interface BatchResult {
  written: number;
  deadLettered: number;
}

export async function writeBatch(pool: pg.Pool, statements: Statements, spans: readonly SpanRow[]): Promise<BatchResult> {
  // Each batch checks out its own connection: concurrent exports (BatchSpanProcessor's
  // forceFlush starts them all at once) queue in the pool, never share a transaction.
  const client = await pool.connect();
  // While checked out, a client's connection error has no pool listener to go to.
  let broken: Error | undefined;
  const markBroken = (error: unknown) => (broken ??= error instanceof Error ? error : new Error(String(error)));
  client.on('error', markBroken);
  try {
    const firstError = await inTransaction(client, markBroken, () => writeRows(client, statements, spans));
    if (firstError === undefined) return { written: spans.length, deadLettered: 0 };
    if (classifyError(firstError) !== 'record') throw firstError;
    let deadLettered = 0;
    const secondError = await inTransaction(client, markBroken, async () => {
      deadLettered = await isolateBadRecords(client, statements, spans);
    });
    if (secondError !== undefined) throw secondError;
    return { written: spans.length - deadLettered, deadLettered };
  } catch (error) {
    // A driver or socket error (no SQLSTATE) leaves the connection in an unknown state.
    if (sqlStateOf(error) === undefined) markBroken(error);
    throw error;
  } finally {
    client.off('error', markBroken);
    // release(error) destroys the connection instead of returning it to the pool.
    client.release(broken);
  }
}

/** BEGIN … COMMIT; on failure ROLLBACK and return the error (undefined on success). */
async function inTransaction(client: pg.PoolClient, markBroken: (error: unknown) => void, work: () => Promise<void>): Promise<unknown> {
  try {
    await client.query('BEGIN');
    await work();
    await client.query('COMMIT');
    return undefined;
  } catch (error) {
    // If even ROLLBACK fails the connection is gone (the server rolls back on its own).
    await client.query('ROLLBACK').catch(markBroken);
    return error;
  }
}
