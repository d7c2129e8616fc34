// `ended` > `crashed` > `started`: a crash record that arrives after the real end (a slow
// recovery, a replayed journal) must never overwrite it, and a real end replaces a crash
// record. Equal states keep the row already stored, so a replay changes nothing.
// The same order is written into the spans upsert (statementSql.ts).
import type { SpanState } from '../spanMarkers.js';
import { positions, SPAN_STATES } from './columnCodes.js';

export const STATE_RANK: Readonly<Record<SpanState, number>> = positions(SPAN_STATES);

/** The SQL expression ranking a state column, matching STATE_RANK. */
export function stateRankSql(column: string): string {
  return `array_position(ARRAY[${SPAN_STATES.map((s) => `'${s}'`).join(', ')}], ${column})`;
}
