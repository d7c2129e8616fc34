// `ended` > `crashed` > `started`: a crash record that arrives after the real end (a slow
// recovery, a replayed journal) must never overwrite it, and a real end replaces a crash
// record. Equal states keep the row already stored, so a replay changes nothing, but for
// two crash records of one span: the one that ends later wins. A recovery that took a
// paused writer for dead ended its spans at its last heartbeat ("process vanished"); the
// writer, resumed, shut down and wrote its own, later and truer ("open at shutdown"), which
// was dropped for good (an attack). The same order is written into the spans upsert
// (statementSql.ts, replacesSql) and the batch's merge (mergeSpanRows.ts).
import type { SpanState } from '../spanMarkers.js';
import { positions, SPAN_STATES } from './columnCodes.js';
import type { SpanRow } from './spanRows.js';
import { compareUnixNano } from './unixNano.js';

export const STATE_RANK: Readonly<Record<SpanState, number>> = positions(SPAN_STATES);

/** The SQL expression ranking a state column, matching STATE_RANK. */
export function stateRankSql(column: string): string {
  return `array_position(ARRAY[${SPAN_STATES.map((s) => `'${s}'`).join(', ')}], ${column})`;
}

/** Whether `row` replaces `kept`, a row of the same span (the order above). */
export function replaces(row: SpanRow, kept: SpanRow): boolean {
  const order = STATE_RANK[row.state] - STATE_RANK[kept.state];
  if (order !== 0) return order > 0;
  return row.state === 'crashed' && row.endTime !== null && (kept.endTime === null || compareUnixNano(row.endTime, kept.endTime) > 0);
}

/** replaces() in SQL, of the spans rows `row` and `kept` (`EXCLUDED`, `t`). */
export function replacesSql(row: string, kept: string): string {
  return `(${stateRankSql(`${row}.state`)} > ${stateRankSql(`${kept}.state`)}
    OR (${row}.state = 'crashed' AND ${kept}.state = 'crashed' AND ${row}.end_time_unix_nano > ${kept}.end_time_unix_nano))`;
}
