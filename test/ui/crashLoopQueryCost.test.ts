// A crash loop leaves crash records by the hundred thousand, and the viewer's lists of them
// must still read about a page: the list of crashes walks spans_crashes_by_end_idx from its
// cursor, and the trace list filtered on crashes walks the newest traces, where every other
// one crashed. Both read the crash records whole before (PostgreSQL's own buffer counts from
// EXPLAIN ANALYZE, not a time): more than the spans table's pages, at each page.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteSchema, type QuotedSchema } from '../../src/postgres/schemaName.js';
import { listCrashes, listTraces, PAGE_SIZE } from '../../src/ui/viewerQueries.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';

const db = new TestDatabase();
const TRACES = 100_000;
const BASE = 1_764_000_000_000_000_000n;
let schema: string;
let quoted: QuotedSchema;
useMigratedSchema(db, 'crash_loop_cost', (name) => {
  schema = name;
  quoted = quoteSchema(name);
});

/** TRACES one-span traces into `into`, trace i starting at BASE + 700 i ns; those `crashed` says of i crashed. */
async function seed(into: string, crashed: string): Promise<void> {
  const base = String(BASE);
  await db.query(
    `INSERT INTO "${into}".traces (trace_id, service_name, root_span_id, root_span_name, start_time, start_time_unix_nano, end_time, end_time_unix_nano)
     SELECT md5('t' || i), 'svc', substr(md5('s' || i), 1, 16), 'op ' || i,
            'epoch'::timestamptz + ((${base} + i * 700) / 1000) * interval '1 microsecond', ${base} + i * 700,
            'epoch'::timestamptz + ((${base} + i * 700 + 5000) / 1000) * interval '1 microsecond', ${base} + i * 700 + 5000
       FROM generate_series(1, ${TRACES}) i`,
  );
  await db.query(
    `INSERT INTO "${into}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, service_name)
     SELECT trace_id, root_span_id, root_span_name, 'SERVER', CASE WHEN ${crashed.replaceAll('i', `((start_time_unix_nano - ${base}) / 700)`)} THEN 'crashed' ELSE 'ended' END,
            start_time, start_time_unix_nano, end_time, end_time_unix_nano, service_name
       FROM "${into}".traces`,
  );
  await db.query(`ANALYZE "${into}".traces, "${into}".spans`);
}

let clustered: string;
beforeAll(async () => {
  // Every other one crashed: 50,000 crash records.
  await seed(schema, 'i % 2 = 0');
  // Every other one of the oldest 20,000, and none of the 80,000 since: a crash loop last week.
  clustered = await db.freshSchema('crash_loop_cost_old');
  await migrateSchema(db.pool, clustered);
  await seed(clustered, 'i % 2 = 0 AND i <= 20000');
}, 120_000);

/** Shared buffers, hit or read, of each query the list runs. */
async function buffersOf(list: (pool: pg.Pool) => Promise<unknown>): Promise<number> {
  const pool = new pg.Pool({ connectionString: db.url, max: 1, options: '-c jit=off -c max_parallel_workers_per_gather=0' });
  let buffers = 0;
  try {
    await list({
      async query(text: string, values: unknown[]) {
        const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
        const plan = rows[0]['QUERY PLAN'][0].Plan;
        buffers += plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
        // Its rows too: a list may choose its next query by them.
        return pool.query(text, values);
      },
    } as unknown as pg.Pool);
  } finally {
    await pool.end();
  }
  return buffers;
}

describe('viewer lists after a crash loop', () => {
  it('read about a page of 50,000 crash records, not all of them', async () => {
    const crashed = await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`);
    expect(crashed).toBe(TRACES / 2);
    const [{ count: pages }] = await db.query<{ count: number }>(`SELECT pg_relation_size('"${schema}".spans') / current_setting('block_size')::int AS count`);
    const middle = BASE + BigInt(TRACES / 2) * 700n;
    const spent = {
      crashes: await buffersOf((p) => listCrashes(p, quoted, {})),
      'crashes, deep page': await buffersOf((p) => listCrashes(p, quoted, { after: `${middle}.${'f'.repeat(32)}.${'f'.repeat(16)}` })),
      'crashed traces': await buffersOf((p) => listTraces(p, quoted, { state: 'crashed' })),
      'crashed traces, deep page': await buffersOf((p) => listTraces(p, quoted, { state: 'crashed', after: `${middle}.${'f'.repeat(32)}` })),
    };
    // A page of crashes: a walk of the index, a heap page or so for each row shown. A page of
    // crashed traces: twice its rows walked, each trace's spans counted and looked at. Half
    // the spans table's pages is far above either (it holds 2,500 here), and below the old
    // forms' reads (all the crash records: 2,851 buffers, and 2,600 for the crashes).
    expect(spent.crashes).toBeLessThan(PAGE_SIZE * 4);
    expect(spent['crashes, deep page']).toBeLessThan(PAGE_SIZE * 4);
    expect(spent['crashed traces']).toBeLessThan(Number(pages) / 2);
    expect(spent['crashed traces, deep page']).toBeLessThan(Number(pages) / 2);
  });

  // Left to the planner, the semi-join walked every newer trace, looking each up: over a
  // million traces, 3.6 million buffers and 3.3 s, against 0.28 s reading the crash records
  // whole (a review). A walk of the newest STATE_WALK_TRACES, then that.
  it('finds crashed traces all at the old end without looking up each newer trace', async () => {
    expect(await db.count(`SELECT count(*) FROM "${clustered}".spans WHERE state = 'crashed'`)).toBe(10_000);
    const [{ count: pages }] = await db.query<{ count: number }>(`SELECT pg_relation_size('"${clustered}".spans') / current_setting('block_size')::int AS count`);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const quotedOld = quoteSchema(clustered);
    try {
      const first = await listTraces(pool, quotedOld, { state: 'crashed' });
      expect(first.rows).toHaveLength(PAGE_SIZE);
      expect(first.rows.every((row) => row.state === 'crashed')).toBe(true);
      expect(first.rows[0]!.trace_id).toBe((await db.query<{ trace_id: string }>(`SELECT md5('t' || 20000) AS trace_id`))[0]!.trace_id);
    } finally {
      await pool.end();
    }
    // 80,000 newer traces looked up, 4 buffers each and more: 320,000. Read whole, the crash
    // records and the traces by time, against them: a few reads of the tables.
    const spent = await buffersOf((p) => listTraces(p, quotedOld, { state: 'crashed' }));
    expect(spent).toBeLessThan(Number(pages) * 4);
  });
});
