// The statements that store a batch: traces first, then spans (and a 'started' row for each
// span known only from a log record of the batch), then span events, then log records.
// Callers wrap them in a transaction (or a savepoint) so they land together: a log row is
// never committed without a row of its span.
import type pg from 'pg';
import { spanRowFromLog, type LogRow } from './logRows.js';
import { mergeSpanRows } from './mergeSpanRows.js';
import type { SpanRow } from './spanRows.js';
import { bindColumns, type ConflictMode, type Statements } from './statements.js';
import { traceRows } from './traceRows.js';

export interface RowBatch {
  /** Merged and sorted by key (mergeSpanRows). */
  spans: readonly SpanRow[];
  logs: readonly LogRow[];
}

export async function writeRows(client: pg.PoolClient, statements: Statements, batch: RowBatch, mode: ConflictMode): Promise<void> {
  const { spans, logs } = batch;
  const knownFromLogs = spansKnownOnlyFromLogs(batch);
  const allSpans = knownFromLogs.length === 0 ? spans : mergeSpanRows([...spans, ...knownFromLogs]);
  // Each statement is encoded while the server runs the one before. Only one query is in
  // flight at a time: queueing several on one client is deprecated in pg 8.
  let running: Promise<unknown> = started(client.query(await bindColumns(statements.upsertTraces(traceRows(allSpans)))));
  const next = [
    spans.length > 0 ? () => statements.writeSpans(spans, mode) : undefined,
    knownFromLogs.length > 0 ? () => statements.writeSpans(knownFromLogs, 'keep') : undefined,
    () => statements.writeLogs(spans, mode),
    () => statements.writeLogRecords(logs, mode),
  ];
  for (const build of next) {
    const bulk = build?.();
    if (bulk === undefined) continue;
    const statement = await bindColumns(bulk);
    await running;
    running = started(client.query(statement));
  }
  await running;
}

/** One 'started' row per span that log records of the batch belong to and the batch does not carry. */
function spansKnownOnlyFromLogs({ spans, logs }: RowBatch): SpanRow[] {
  if (logs.length === 0) return [];
  const carried = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
  const rows = new Map<string, SpanRow>();
  for (const log of logs) {
    if (log.traceId === null || log.spanId === null) continue;
    const key = `${log.traceId}/${log.spanId}`;
    if (!carried.has(key) && !rows.has(key)) rows.set(key, spanRowFromLog(log));
  }
  return mergeSpanRows([...rows.values()]);
}

/** Marks a query's failure as handled until it is awaited, should encoding throw first. */
function started<T>(query: Promise<T>): Promise<T> {
  query.catch(() => {});
  return query;
}
