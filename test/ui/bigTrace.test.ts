// A trace of more spans than the viewer shows (MAX_TRACE_SPANS): the first ones by start time
// were shown, and nothing else. Crash records are the spans still open when a process died,
// so they started last: in a batch job of 25,000 rows that died in the last one, the crash
// record a user clicked in "Recent crashes" was not in the view, and the header counted
// "1 crashed" of the spans shown (a review). Now the spans that matter come whatever their
// start (crash records, ERROR spans, the span asked for, and their parents) and the counts
// are the whole trace's.
import { beforeAll, expect, test } from 'vitest';
import { quoteSchema } from '../../src/postgres/schemaName.js';
import { MAX_TRACE_SPANS, traceSpans } from '../../src/ui/viewerQueries.js';
import { readOnlyQueries } from '../../src/ui/viewerDatabase.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';

const db = new TestDatabase();
const TRACE = 'b1'.repeat(16);
const ROWS = MAX_TRACE_SPANS + 5_000;
const T0 = 1_764_000_000_000_000_000n;
let schema: string;
useMigratedSchema(db, 'viewer_big_trace', (name) => (schema = name));

/** Rows as the exporter stores them, `parent` null for the root. */
async function insertSpan(spanId: string, parent: string | null, name: string, state: string, startOffset: number, status = 'UNSET'): Promise<void> {
  await db.query(
    `INSERT INTO "${schema}".spans (trace_id, span_id, parent_span_id, name, kind, state, status_code, start_time, start_time_unix_nano, end_time, end_time_unix_nano)
     VALUES ($1, $2, $3, $4, 'INTERNAL', $5, $6, now(), $7::bigint, now(), $7::bigint + 1000)`,
    [TRACE, spanId, parent, name, state, status, String(T0 + BigInt(startOffset))],
  );
}

beforeAll(async () => {
  // The job (root) and its worker, then ROWS ended rows under the worker, one a microsecond.
  await insertSpan('a000000000000001', null, 'import job', 'ended', 0);
  await insertSpan('a000000000000002', 'a000000000000001', 'worker', 'ended', 1);
  await db.query(
    `INSERT INTO "${schema}".spans (trace_id, span_id, parent_span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano)
     SELECT $1, lpad(to_hex(i), 16, '0'), 'a000000000000002', 'row ' || i, 'INTERNAL', 'ended', now(), $2::bigint + 1000 * i, now(), $2::bigint + 1000 * i + 500
       FROM generate_series(1, ${ROWS}) i`,
    [TRACE, String(T0)],
  );
  // After every row: the last batch (ended), the row it was on when the process died (a
  // crash record), an ERROR span, and a plain span someone shared a link to.
  const late = 1000 * (ROWS + 10);
  await insertSpan('d000000000000001', 'a000000000000002', 'last batch', 'ended', late);
  await insertSpan('d000000000000002', 'd000000000000001', 'row 25001', 'crashed', late + 1);
  await insertSpan('d000000000000003', 'a000000000000001', 'notify', 'ended', late + 2, 'ERROR');
  await insertSpan('d000000000000004', 'a000000000000001', 'audit', 'ended', late + 3);
});

test('a trace past the cap comes with its crash records, ERROR spans and the span asked for, their parents, and the whole trace\'s counts', async () => {
  const pool = readOnlyQueries(db.pool);
  const { spans, truncated, counts } = await traceSpans(pool, quoteSchema(schema), TRACE, 'd000000000000004');
  expect(truncated).toBe(true);
  expect(spans.length).toBe(MAX_TRACE_SPANS);
  const ids = new Set(spans.map((span) => span.span_id));
  for (const id of ['a000000000000001', 'a000000000000002', 'd000000000000001', 'd000000000000002', 'd000000000000003', 'd000000000000004']) expect(ids.has(id)).toBe(true);
  expect(ids.size).toBe(spans.length);
  // In the order the waterfall nests them: by start time.
  const starts = spans.map((span) => BigInt(span.start_time_unix_nano));
  expect(starts.every((start, i) => i === 0 || starts[i - 1]! <= start)).toBe(true);
  expect(counts).toEqual({ spans: ROWS + 6, ended: ROWS + 5, crashed: 1, started: 0, errors: 1 });
});

test('a trace within the cap comes whole, with the same counts', async () => {
  const pool = readOnlyQueries(db.pool);
  const { spans, truncated, counts } = await traceSpans(pool, quoteSchema(schema), 'e'.repeat(32));
  expect({ spans, truncated, counts }).toEqual({ spans: [], truncated: false, counts: { spans: 0, ended: 0, crashed: 0, started: 0, errors: 0 } });
});
