// The three statements that store a set of spans: traces first, then spans, then their
// events. Callers wrap them in a transaction (or a savepoint) so they land together.
import type pg from 'pg';
import type { SpanRow } from './spanRows.js';
import type { Statements } from './statements.js';
import { traceRows } from './traceRows.js';

export async function writeRows(client: pg.PoolClient, statements: Statements, spans: readonly SpanRow[]): Promise<void> {
  await client.query(statements.upsertTraces(traceRows(spans)));
  await client.query(statements.upsertSpans(spans));
  const logs = statements.insertLogs(spans);
  if (logs !== undefined) await client.query(logs);
}
