// What the viewer reads through: each query in a transaction of its own, read-only, with a
// statement timeout, no JIT and ISO dates, all set for that transaction alone (SET LOCAL).
// Set for the session when a connection was made, they stayed on the server's connection
// behind PgBouncer's transaction pooling, which hands that connection to other clients:
// the application's own writes and the exporter's batches failed as read-only (25006)
// until PgBouncer retired it, an hour later by default (an attack).
import type pg from 'pg';
import { sqlStateOf } from '../postgres/sqlState.js';

export interface ViewerDatabase {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
  end(): Promise<void>;
}

/**
 * No JIT: the viewer's queries read a page of rows, but the planner's cost for the trace
 * list's per-trace span counts passes jit_above_cost: at 200,000 traces, compiling made an
 * 8 ms page 187 ms. ISO dates: node-postgres reads timestamps in that style only, and a
 * database whose DateStyle is 'SQL, DMY' gave the pages null times. The statement timeout
 * needs a server that answers: the pool's query_timeout covers one that does not.
 */
const VIEWER_TRANSACTION = "BEGIN READ ONLY; SET LOCAL statement_timeout = 15000; SET LOCAL jit = off; SET LOCAL DateStyle = 'ISO, YMD'";

export function readOnlyQueries(pool: pg.Pool): ViewerDatabase {
  return {
    async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        try {
          // Inside: a setting refused after BEGIN (a server without `jit`) leaves the
          // transaction aborted, and given back so, the connection failed every later query.
          await client.query(VIEWER_TRANSACTION);
          const result = await client.query<R>(text, values);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          // PostgreSQL's answer (a SQLSTATE): the connection works, and is given back rolled
          // back; one that cannot even roll back is not. Any other failure (the pool's
          // query_timeout, a lost socket) leaves a connection no ROLLBACK would reach: it
          // waited a second query_timeout behind the first (a review: 40 s, not 20).
          if (sqlStateOf(error) !== undefined) await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
          throw error;
        }
      } catch (error) {
        // Only PostgreSQL's answers (a SQLSTATE) leave the connection usable.
        if (sqlStateOf(error) === undefined) broken ??= error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        client.release(broken);
      }
    },
    end: () => pool.end(),
  };
}
