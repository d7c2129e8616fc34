// The three statements that store a set of spans: traces first, then spans, then their
// events. Callers wrap them in a transaction (or a savepoint) so they land together.
import type pg from 'pg';
import type { SpanRow } from './spanRows.js';
import type { ConflictMode, Statements } from './statements.js';
import { traceRows } from './traceRows.js';

export async function writeRows(client: pg.PoolClient, statements: Statements, spans: readonly SpanRow[], mode: ConflictMode): Promise<void> {
  // Each statement is encoded while the server runs the one before. Only one query is in
  // flight at a time: queueing several on one client is deprecated in pg 8.
  const traces = started(client.query(statements.upsertTraces(traceRows(spans))));
  const spansStatement = statements.writeSpans(spans, mode);
  await traces;
  const spansQuery = started(client.query(spansStatement));
  const logsStatement = statements.writeLogs(spans, mode);
  await spansQuery;
  if (logsStatement !== undefined) await client.query(logsStatement);
}

/** Marks a query's failure as handled until it is awaited, should encoding throw first. */
function started<T>(query: Promise<T>): Promise<T> {
  query.catch(() => {});
  return query;
}
