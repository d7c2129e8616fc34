// One batch, one transaction. Any failure rolls the whole transaction back; what happens
// next depends on the error:
//
// 1. New rows are the common case, so the batch is first written with plain INSERTs for
//    spans and events: without ON CONFLICT's index pre-check and speculative insertion,
//    the server spent 15–20% less CPU per span (the benchmark's spans, PostgreSQL 15).
// 2. 23505 (a row already stored: a replay, a crash record meeting its real end) → the
//    batch is written again in a new transaction with upserts that apply precedence.
// 3. Another error PostgreSQL raises for one record (class 22/23/54) → written again with
//    the refused records isolated into dead_letters (isolateBadRecords.ts).
// 4. Anything else (transient or configuration) is thrown: nothing of the batch remains.
import type pg from 'pg';
import { isolateBadRecords } from './isolateBadRecords.js';
import { classifyError, SQLSTATE, sqlStateOf } from './sqlState.js';
import type { Statements } from './statements.js';
import { writeRows, type RowBatch } from './writeRows.js';

export interface BatchResult {
  /** Spans and log records. */
  written: number;
  deadLettered: number;
}

export async function writeBatch(pool: pg.Pool, statements: Statements, batch: RowBatch): Promise<BatchResult> {
  const records = batch.spans.length + batch.logs.length;
  // Each batch checks out its own connection: concurrent exports (BatchSpanProcessor's
  // forceFlush starts them all at once) queue in the pool, never share a transaction.
  const client = await pool.connect();
  // While checked out, a client's connection error has no pool listener to go to.
  let broken: Error | undefined;
  const markBroken = (error: unknown) => (broken ??= error instanceof Error ? error : new Error(String(error)));
  client.on('error', markBroken);
  const transaction = (work: () => Promise<void>) => inTransaction(client, markBroken, work);
  try {
    let error = await transaction(() => writeRows(client, statements, batch, 'fail'));
    if (error === undefined) return { written: records, deadLettered: 0 };
    if (sqlStateOf(error) === SQLSTATE.UNIQUE_VIOLATION) {
      error = await transaction(() => writeRows(client, statements, batch, 'upsert'));
      if (error === undefined) return { written: records, deadLettered: 0 };
    }
    if (classifyError(error) !== 'record') throw error;
    const refusal = error;
    let deadLettered = 0;
    error = await transaction(async () => {
      deadLettered = await isolateBadRecords(client, statements, batch, refusal);
    });
    if (error !== undefined) throw error;
    return { written: records - deadLettered, deadLettered };
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
