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
  // Stable: rows with one key keep their arrival order.
  const sorted = [...rows].sort(compareKeys);
  const merged: SpanRow[] = [];
  for (const row of sorted) {
    const last = merged[merged.length - 1];
    if (last === undefined || last.traceId !== row.traceId || last.spanId !== row.spanId) {
      merged.push(row);
    } else if (STATE_RANK[row.state] > STATE_RANK[last.state]) {
      // Strictly higher wins; on a tie the first stays, as it does against the table.
      merged[merged.length - 1] = row;
    }
  }
  return merged;
}

/** Code-unit order, which for hex ids is the "C" collation's byte order in the indexes. */
function compareKeys(a: SpanRow, b: SpanRow): number {
  if (a.traceId !== b.traceId) return a.traceId < b.traceId ? -1 : 1;
  if (a.spanId !== b.spanId) return a.spanId < b.spanId ? -1 : 1;
  return 0;
}
