// One batch, one transaction. The batch arrives bound (bindRows): its rows were let go,
// and only a batch PostgreSQL refuses record by record makes them again (`rowsAgain`).
// Any failure rolls the whole transaction back; what happens next depends on the error:
//
// 1. New rows are the common case, so the batch is first written with plain INSERTs for
//    spans and events: without ON CONFLICT's index pre-check and speculative insertion,
//    the server spent 15–20% less CPU per span (the benchmark's spans, PostgreSQL 15).
// 2. 23505 (a row already stored: a replay, a crash record meeting its real end) → the
//    batch is written again in a new transaction with upserts that apply precedence (the
//    same parameters, other SQL).
// 3. A refusal of one record (class 22/23/54), or one that may be (a trigger's RAISE, class
//    P0; a refused privilege, 42501) → the rows are made again and written with the refused
//    records isolated into dead_letters (isolateBadRecords.ts), which throws the refusal
//    back when a plain row of the batch's shape is refused too (every record's, then).
// 4. Anything else (transient or configuration) is thrown: nothing of the batch remains,
//    except after a COMMIT whose reply was lost (CommitOutcomeUnknownError): it may have
//    been applied, and the retry's upsert makes that harmless.
//
// A batch is bounded by its deadline (exportTimeoutMillis after export() was called) up to
// COMMIT: each transaction runs with `SET LOCAL statement_timeout` set to what remains (the
// server ends a statement stuck behind a lock and frees its backend, with a clean error on
// a connection that stays usable), and CUTOFF_GRACE_MILLIS later the connection is closed
// (the client stops waiting on a server that no longer answers). A caller that gave up on the batch thus never leaves
// a connection behind.
import type pg from 'pg';
import { beforeDeadline } from './beforeDeadline.js';
import { isolateBadRecords, isolates, RefusedRows } from './isolateBadRecords.js';
import { CommitOutcomeUnknownError } from './PostgresExportError.js';
import { SQLSTATE, sqlStateOf } from './sqlState.js';
import type { Statement, Statements } from './statements.js';
import { sendRows, type BoundRows, type RowBatch } from './writeRows.js';

/** After the deadline, how long the server's own statement_timeout has to end a statement first. */
const CUTOFF_GRACE_MILLIS = 250;

/**
 * `alongside`: statements committed in the same transaction as the rows (the dead letters
 * of records that could not be made rows), so they are written once with the batch, within
 * its deadline, or not at all. Returns what PostgreSQL refused, now in dead_letters.
 */
export async function writeBatch(
  pool: pg.Pool,
  statements: Statements,
  batch: BoundRows,
  rowsAgain: () => Promise<RowBatch>,
  /** When the batch must be done, and the exportTimeoutMillis that set it (for messages). */
  { deadline, timeoutMillis }: { deadline: number; timeoutMillis: number },
  alongside: readonly Statement[] = [],
): Promise<RefusedRows> {
  // Each batch checks out its own connection: concurrent exports (BatchSpanProcessor's
  // forceFlush starts them all at once) queue in the pool, never share a transaction.
  const client = await connectBefore(pool, deadline, timeoutMillis);
  // While checked out, a client's connection error has no pool listener to go to.
  let broken: Error | undefined;
  const markBroken = (error: unknown) => (broken ??= error instanceof Error ? error : new Error(String(error)));
  client.on('error', markBroken);
  let timedOut: Error | undefined;
  const cutoff = setTimeout(() => {
    timedOut = batchTimeout(timeoutMillis);
    markBroken(timedOut);
    // With a statement in flight, end() destroys the socket and that statement fails.
    client.end().catch(() => {});
  }, Math.max(0, deadline - performance.now()) + CUTOFF_GRACE_MILLIS);
  cutoff.unref();
  const transaction = (work: () => Promise<void>) =>
    inTransaction(client, markBroken, deadline, async () => {
      await work();
      for (const statement of alongside) await client.query(statement);
    });
  try {
    let error = await transaction(() => sendRows(client, batch, 'fail'));
    if (error === undefined) return new RefusedRows();
    if (sqlStateOf(error) === SQLSTATE.UNIQUE_VIOLATION) {
      error = await transaction(() => sendRows(client, batch, 'upsert'));
      if (error === undefined) return new RefusedRows();
    }
    if (!isolates(error)) throw error;
    const refusal = error;
    let refused = new RefusedRows();
    const rows = await rowsAgain();
    error = await transaction(async () => {
      refused = await isolateBadRecords(client, statements, rows, refusal);
    });
    if (error !== undefined) throw error;
    return refused;
  } catch (error) {
    // The connection of a failed batch is not given back: a driver or socket error leaves
    // it in an unknown state, and a session may be what failed. One opened on a standby
    // during a failover stays read-only (25006) after the primary is back, and a role's or
    // database's settings changed since apply to new sessions only: retried every few
    // seconds, a kept connection never reached the pool's idle timeout, and export stayed
    // stuck for good. Failures are rare; a new connection per one costs milliseconds.
    markBroken(error);
    if (timedOut && !(error instanceof CommitOutcomeUnknownError)) throw timedOut;
    throw error;
  } finally {
    clearTimeout(cutoff);
    client.off('error', markBroken);
    // release(error) destroys the connection instead of returning it to the pool.
    client.release(broken);
  }
}

/**
 * BEGIN … COMMIT; on failure ROLLBACK and return the error (undefined on success). A COMMIT
 * that fails without a SQLSTATE lost its reply: the server may have applied it.
 */
async function inTransaction(
  client: pg.PoolClient,
  markBroken: (error: unknown) => void,
  deadline: number,
  work: () => Promise<void>,
): Promise<unknown> {
  try {
    // One round trip, as plain BEGIN was: the number is ours, never user input.
    await client.query(`BEGIN; SET LOCAL statement_timeout = ${Math.max(1, Math.ceil(deadline - performance.now()))}`);
    await work();
  } catch (error) {
    // If even ROLLBACK fails the connection is gone (the server rolls back on its own).
    await client.query('ROLLBACK').catch(markBroken);
    return error;
  }
  try {
    await client.query('COMMIT');
    return undefined;
  } catch (error) {
    if (sqlStateOf(error) === undefined) return new CommitOutcomeUnknownError(error);
    await client.query('ROLLBACK').catch(markBroken);
    return error;
  }
}

/**
 * pool.connect() within the batch's deadline, even with a pool that waits forever
 * (connectionTimeoutMillis 0, or a caller's pool): a connection that arrives late is
 * handed straight back.
 */
async function connectBefore(pool: pg.Pool, deadline: number, timeoutMillis: number): Promise<pg.PoolClient> {
  const connecting = pool.connect();
  try {
    return await beforeDeadline(connecting, deadline, () => batchTimeout(timeoutMillis));
  } catch (error) {
    connecting.then((client) => client.release(), () => {});
    throw error;
  }
}

/** Transient (ETIMEDOUT): the retry may well succeed once the lock or the outage is gone. */
function batchTimeout(timeoutMillis: number): Error {
  return Object.assign(new Error(`the batch did not finish within exportTimeoutMillis (${timeoutMillis} ms); its connection was closed`), {
    code: 'ETIMEDOUT',
  });
}
