// `INSERT ... ON CONFLICT DO UPDATE` fails the whole statement (SQLSTATE 21000) when two
// of its rows share a key, so duplicates within a batch are merged first, by the same
// precedence the upsert applies against stored rows.
import { STATE_RANK } from './statePrecedence.js';
import type { SpanRow } from './spanRows.js';

/**
 * One row per (trace id, span id), sorted by that key. The sort also makes concurrent
 * transactions lock shared trace rows in one order, so they queue instead of deadlocking.
 */
export function mergeSpanRows(rows: readonly SpanRow[]): SpanRow[] {
  const byKey = new Map<string, SpanRow>();
  for (const row of rows) {
    const key = `${row.traceId}/${row.spanId}`;
    const kept = byKey.get(key);
    // Strictly higher wins; on a tie the first stays, as it does against the table.
    if (kept === undefined || STATE_RANK[row.state] > STATE_RANK[kept.state]) byKey.set(key, row);
  }
  const keys = [...byKey.keys()].sort();
  return keys.map((key) => byKey.get(key)!);
}
