// The statements that store a batch: traces first, then spans (and a 'started' row for each
// span known only from a log record of the batch), then, in a batch holding a final row of
// a span that dropped events, the removal of that span's stored events (its row replaces
// them: spanRows.ts, replacesStoredEvents), then span events, then log records.
// They are bound once (bindRows): their parameters, a few hundred bytes per span in binary
// arrays, are all the batch needs to be sent again, so the rows themselves are let go
// before the database round trip. Held through it, they outlived the scavenges under
// overload and were most of what the old generation grew with (bench/overload.mjs).
// Callers wrap the statements in a transaction (or a savepoint) so they land together: a
// log row of a sampled span is never committed without a row of its span (one of a span not
// sampled has none: logRows.ts, inSampledSpan).
import type pg from 'pg';
import { queryBinary } from './binaryParameterQuery.js';
import { inSampledSpan, spanRowFromLog, type LogRow } from './logRows.js';
import { mergeSpanRows } from './mergeSpanRows.js';
import { ParameterArena } from './ParameterArena.js';
import type { SpanRow } from './spanRows.js';
import { bindColumns, type BoundStatement, type ConflictMode, type Statements } from './statements.js';
import { traceRows } from './traceRows.js';
import { TurnBudget } from '../TurnBudget.js';

export interface RowBatch {
  /** Merged and sorted by key (mergeSpanRows). */
  spans: readonly SpanRow[];
  logs: readonly LogRow[];
}

/** A batch as statements with their parameters, ready to send in either conflict mode. */
export interface BoundRows {
  statements: BoundStatement[];
  spans: number;
  logs: number;
  /** Holds the parameters: released once the batch is done (they are not sent again). */
  arena: ParameterArena;
}

/** `turn`: the batch's handle on the turn's budget, which every batch in flight shares (TurnBudget.ts). */
export async function bindRows(statements: Statements, batch: RowBatch, turn = new TurnBudget()): Promise<BoundRows> {
  const { spans, logs } = batch;
  const knownFromLogs = spansKnownOnlyFromLogs(batch);
  const allSpans = knownFromLogs.length === 0 ? spans : mergeSpanRows([...spans, ...knownFromLogs]);
  const bulk = [
    statements.upsertTraces(traceRows(allSpans)),
    spans.length > 0 ? statements.writeSpans(spans) : undefined,
    knownFromLogs.length > 0 ? statements.writeKnownSpans(knownFromLogs) : undefined,
    statements.replaceEvents(spans),
    statements.writeLogs(spans),
    statements.writeLogRecords(logs),
  ];
  const arena = new ParameterArena();
  const bound: BoundStatement[] = [];
  for (const statement of bulk) if (statement !== undefined) bound.push(await bindColumns(statement, arena, turn));
  return { statements: bound, spans: spans.length, logs: logs.length, arena };
}

/** Every statement of the batch in one round trip; rejects with the first error. */
export function sendRows(client: pg.ClientBase, bound: BoundRows, mode: ConflictMode): Promise<void> {
  return queryBinary(
    client,
    bound.statements.map(({ sql, values }) => ({ text: sql[mode], values })),
  );
}

export async function writeRows(client: pg.ClientBase, statements: Statements, batch: RowBatch, mode: ConflictMode): Promise<void> {
  const bound = await bindRows(statements, batch);
  try {
    await sendRows(client, bound, mode);
  } finally {
    bound.arena.release();
  }
}

/** One 'started' row per span that log records of the batch belong to and the batch does not carry. */
function spansKnownOnlyFromLogs({ spans, logs }: RowBatch): SpanRow[] {
  if (logs.length === 0) return [];
  const carried = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
  const rows = new Map<string, SpanRow>();
  for (const log of logs) {
    if (!inSampledSpan(log)) continue;
    const key = `${log.traceId}/${log.spanId}`;
    if (!carried.has(key) && !rows.has(key)) rows.set(key, spanRowFromLog(log));
  }
  return mergeSpanRows([...rows.values()]);
}
