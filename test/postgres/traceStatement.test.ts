// A batch's traces are merged into the stored ones in its first try (statementSql.ts,
// tracesSql): a trace stored by an earlier batch, or by another transaction meanwhile,
// never costs the batch a second transaction. A sequence counts the trace rows each
// attempt proposed: it is not rolled back with them.
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
let schema = '';
useMigratedSchema(db, 'trace_statement', (s) => (schema = s));

beforeAll(async () => {
  await db.query(`CREATE SEQUENCE "${schema}".trace_rows_proposed`);
  await db.query(`CREATE FUNCTION "${schema}".count_proposed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM nextval('"${schema}".trace_rows_proposed'); RETURN NEW; END $$`);
  await db.query(`CREATE TRIGGER count_proposed BEFORE INSERT ON "${schema}".traces FOR EACH ROW EXECUTE FUNCTION "${schema}".count_proposed()`);
});

/** Trace rows proposed since the last call, committed or not. */
let proposedBefore = 0;
async function proposed(): Promise<number> {
  const [row] = await db.query<{ n: string }>(`SELECT last_value + (CASE WHEN is_called THEN 0 ELSE -1 END) AS n FROM "${schema}".trace_rows_proposed`);
  const total = Number(row!.n);
  const since = total - proposedBefore;
  proposedBefore = total;
  return since;
}

async function traceRow(traceId: string) {
  const [row] = await db.query(
    `SELECT root_span_name, root_span_ended, start_time_unix_nano::text AS start, end_time_unix_nano::text AS "end" FROM "${schema}".traces WHERE trace_id = $1`,
    [traceId],
  );
  return row;
}

const traceIdOf = (spans: ReadableSpan[]) => spans[0]!.spanContext().traceId;
const rootOf = (spans: ReadableSpan[]) => spans.find((s) => s.parentSpanContext === undefined)!;
const childrenOf = (spans: ReadableSpan[]) => spans.filter((s) => s.parentSpanContext !== undefined);
const nanos = ([seconds, nanoseconds]: [number, number]) => BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);
/** A trace's end: its spans' latest (the SDK anchors each span's clock at its start, so a child may end after its root). */
const endOf = (spans: ReadableSpan[]) => spans.map((s) => nanos(s.endTime)).reduce((a, b) => (a > b ? a : b)).toString();
const startOf = (spans: ReadableSpan[]) => spans.map((s) => nanos(s.startTime)).reduce((a, b) => (a < b ? a : b)).toString();

describe("a batch's traces statement", () => {
  it('merges the traces already stored and inserts the new ones, in one try', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const stored = await Promise.all([1, 2, 3].map((i) => traceOf(4, `stored-${i}`)));
    const fresh = await Promise.all([1, 2, 3].map((i) => traceOf(2, `fresh-${i}`)));
    await proposed();

    // Children first: the traces are stored without their roots, as when a root ends last.
    expect(await exportSpans(exporter, stored.flatMap(childrenOf))).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await proposed()).toBe(3);
    for (const spans of stored) expect((await traceRow(traceIdOf(spans)))!.root_span_name).toBeNull();

    // The roots of the stored traces and three new traces: one try, each trace proposed once.
    expect(await exportSpans(exporter, [...stored.map(rootOf), ...fresh.flat()])).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await proposed()).toBe(6);
    await exporter.shutdown();

    for (const spans of [...stored, ...fresh]) {
      const root = rootOf(spans);
      expect(await traceRow(traceIdOf(spans))).toEqual({
        root_span_name: root.name,
        root_span_ended: true,
        start: startOf(spans),
        end: endOf(spans),
      });
    }
  });

  it('merges a trace another transaction stores meanwhile, in one try', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const spans = await traceOf(3, 'raced');
    const traceId = traceIdOf(spans);
    await proposed();

    // Another writer holds the trace's row, inserted and not yet committed, with an earlier start.
    const other = await db.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO "${schema}".traces (trace_id, start_time, start_time_unix_nano) VALUES ($1, 'epoch', 1000)`, [traceId]);
      const exported = exportSpans(exporter, spans);
      // The batch's insert waits for the other writer's row.
      await expect
        .poll(() => db.count(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%"${schema}".traces%`]))
        .toBe(1);
      await other.query('COMMIT');
      expect(await exported).toEqual({ code: ExportResultCode.SUCCESS });
    } finally {
      other.release();
    }
    await exporter.shutdown();

    // The other writer's row and the batch's one.
    expect(await proposed()).toBe(2);
    const root = rootOf(spans);
    expect(await traceRow(traceId)).toEqual({ root_span_name: root.name, root_span_ended: true, start: '1000', end: endOf(spans) });
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [traceId])).toBe(3);
  });
});
