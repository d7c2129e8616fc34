// The viewer's queries read about a page of rows, not the table: over 60,000 traces, each
// list page and each span's logs touch a small fraction of the tables' pages (PostgreSQL's
// own buffer count from EXPLAIN ANALYZE, not a time), and the pages still come in the
// order of the nanoseconds, each row exactly once, across microsecond and nanosecond ties.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteSchema, type QuotedSchema } from '../../src/postgres/schemaName.js';
import { listCrashes, listTraces, MAX_SPAN_LOGS, PAGE_SIZE, processLogs, spanLogs, type ListFilter } from '../../src/ui/viewerQueries.js';
import { listLogsOutsideSpans } from '../../src/ui/logsOutsideSpans.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';

const db = new TestDatabase();
const TRACES = 60_000;
const BASE = 1_764_000_000_000_000_000n;
let schema: string;
let quoted: QuotedSchema;
/** A migrated schema has every column the viewer reads (LogColumns.ts): its queries are measured naming them all. */
const COLUMNS = { scopeAttributes: true };
useMigratedSchema(db, 'viewer_cost', (name) => {
  schema = name;
  quoted = quoteSchema(name);
});

beforeAll(async () => {
  // Trace i starts at BASE + floor(i / 2) * 700 ns: pairs share their nanoseconds (ordered
  // by trace id), and runs of them share a microsecond. One span each: every 50th crashed,
  // every 97th still started; one span event each, and 1,200 log records in one span, ten
  // to a nanosecond (their sequence orders them).
  const base = String(BASE);
  await db.query(
    `INSERT INTO "${schema}".traces (trace_id, service_name, root_span_id, root_span_name, start_time, start_time_unix_nano, end_time, end_time_unix_nano)
     SELECT md5('t' || i), 'svc-' || (i % 3), substr(md5('s' || i), 1, 16), 'op ' || i,
            'epoch'::timestamptz + ((${base} + (i / 2) * 700) / 1000) * interval '1 microsecond', ${base} + (i / 2) * 700,
            'epoch'::timestamptz + ((${base} + (i / 2) * 700 + 5000) / 1000) * interval '1 microsecond', ${base} + (i / 2) * 700 + 5000
       FROM generate_series(1, ${TRACES}) i`,
  );
  await db.query(
    `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, service_name, attributes)
     SELECT trace_id, root_span_id, root_span_name, 'SERVER',
            CASE WHEN i % 50 = 0 THEN 'crashed' WHEN i % 97 = 0 THEN 'started' ELSE 'ended' END,
            start_time, start_time_unix_nano, end_time, end_time_unix_nano, service_name, jsonb_build_object('i', i)
       FROM (SELECT t.*, row_number() OVER (ORDER BY start_time_unix_nano, trace_id) AS i FROM "${schema}".traces t) t`,
  );
  // Every 113th span failed (status ERROR): rare, as errors are.
  await db.query(`UPDATE "${schema}".spans SET status_code = 'ERROR' WHERE (attributes ->> 'i')::int % 113 = 0`);
  await db.query(
    `INSERT INTO "${schema}".logs (kind, trace_id, span_id, event_index, time, time_unix_nano, event_name, attributes)
     SELECT 'event', trace_id, span_id, 0, start_time, start_time_unix_nano, 'checkpoint', '{"k": "v"}' FROM "${schema}".spans`,
  );
  await db.query(
    `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, time, time_unix_nano, severity_text, body)
     SELECT 'log', 'w', n, trace_id, span_id, start_time, start_time_unix_nano + n / 10, 'INFO', to_jsonb('line ' || n)
       FROM (SELECT * FROM "${schema}".spans ORDER BY trace_id LIMIT 1) s, generate_series(1, 1200) n`,
  );
  // 30,000 lines no span shows, from three writers, three to a nanosecond: outside any span,
  // or (every 7th) in a span not sampled.
  await db.query(
    `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, trace_flags, time, time_unix_nano, service_name, body)
     SELECT 'log', 'outside-' || (n % 3), n, CASE WHEN n % 7 = 0 THEN md5('u' || n) END, CASE WHEN n % 7 = 0 THEN '00000000000000c1' END, CASE WHEN n % 7 = 0 THEN 0 END,
            'epoch'::timestamptz + ((${base} + (n / 3) * 900) / 1000) * interval '1 microsecond', ${base} + (n / 3) * 900, 'svc-' || (n % 3), to_jsonb('outside ' || n)
       FROM generate_series(1, 30000) n`,
  );
  await db.query(`ANALYZE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
}, 120_000);

/** A pool whose queries are EXPLAIN ANALYZEd: each call's shared buffers, hit or read. */
function countingPool(pool: pg.Pool, buffers: number[]): pg.Pool {
  return {
    async query(text: string, values: unknown[]) {
      const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
      const plan = rows[0]['QUERY PLAN'][0].Plan;
      buffers.push(plan['Shared Hit Blocks'] + plan['Shared Read Blocks']);
      // Its rows too: a list may choose its next query by them.
      return pool.query(text, values);
    },
  } as unknown as pg.Pool;
}

async function pagesOf(table: string): Promise<number> {
  return db.count(`SELECT pg_relation_size('"${schema}".${table}') / current_setting('block_size')::int AS count`);
}

describe('viewer query cost', () => {
  it('reads a few pages for a page of traces, crashes, a span\'s logs or a process\'s last lines, whatever the table size', async () => {
    const [traces, spans, logs] = [await pagesOf('traces'), await pagesOf('spans'), await pagesOf('logs')];
    expect(traces).toBeGreaterThan(900);
    // Without parallel workers: each reads ahead past the LIMIT, by as much as its start
    // allows, so a page's count varied from run to run (39,443 against 12,105 for one plan).
    const pool = new pg.Pool({ connectionString: db.url, max: 1, options: '-c jit=off -c max_parallel_workers_per_gather=0' });
    try {
      const middle = `${BASE + BigInt(TRACES / 4) * 700n}.${'f'.repeat(32)}`;
      const [logged] = await db.query<{ trace_id: string; span_id: string }>(`SELECT trace_id, span_id FROM "${schema}".logs WHERE kind = 'log' AND writer_id = 'w' LIMIT 1`);
      const spent: Record<string, number[]> = {};
      const cases: [string, (counting: pg.Pool) => Promise<unknown>][] = [
        ['traces', (p) => listTraces(p, quoted, {})],
        ['traces, deep page', (p) => listTraces(p, quoted, { after: middle })],
        ['crashed traces', (p) => listTraces(p, quoted, { state: 'crashed' })],
        ['started traces', (p) => listTraces(p, quoted, { state: 'started' })],
        ['traces with an error', (p) => listTraces(p, quoted, { status: 'error' })],
        ['traces of a service', (p) => listTraces(p, quoted, { service: 'svc-1' })],
        ['crashes', (p) => listCrashes(p, quoted, {})],
        ['crashes, deep page', (p) => listCrashes(p, quoted, { after: middle })],
        // Crashes before a time: the walk of spans_crashes_by_end_idx starts there.
        ['crashes before a time', (p) => listCrashes(p, quoted, { to: new Date(Number(BASE / 1_000_000n) + 10) })],
        ['log lines outside spans', (p) => listLogsOutsideSpans(p, quoted, {}, COLUMNS)],
        ['log lines outside spans, deep page', (p) => listLogsOutsideSpans(p, quoted, { after: `${BASE + 5000n * 900n}.15000.${Buffer.from('outside-0').toString('base64url')}` }, COLUMNS)],
        ['span logs', (p) => spanLogs(p, quoted, logged!.trace_id, logged!.span_id, COLUMNS)],
        // A crash record's process: the last lines of its writer, of 1,200.
        ['process logs', (p) => processLogs(p, quoted, 'w', COLUMNS)],
      ];
      for (const [name, run] of cases) await run(countingPool(pool, (spent[name] = [])));
      // A page of any list, or a span's logs: well under a full read of the smallest table.
      // A list filtered on a rare trait (a crash, a span in flight, an error: one trace of 50,
      // 97 and 113 here) walks the newest traces until it has a page of them, each looked up
      // in an index: a few pages for each trace walked, not the table (120,000 and more).
      const walkedTo = (trait: string): Promise<number> =>
        db.count(
          `SELECT count(*) FROM "${schema}".traces WHERE start_time_unix_nano >= (
             SELECT t.start_time_unix_nano FROM "${schema}".traces t
              WHERE EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = t.trace_id AND ${trait})
              ORDER BY t.start_time_unix_nano DESC OFFSET ${PAGE_SIZE} LIMIT 1)`,
        );
      const page = Math.min(traces, spans, logs) / 3;
      const limits: Record<string, number> = {
        // Each one's spans counted (the primary key), and a look for one in that state.
        'crashed traces': page + 5 * (await walkedTo(`s.state = 'crashed'`)),
        'started traces': page + 5 * (await walkedTo(`s.state = 'started'`)),
        // Two pages of spans_error_idx for each.
        'traces with an error': page + 2.5 * (await walkedTo(`s.status_code = 'ERROR'`)),
      };
      const over = Object.entries(spent)
        // Every query a list runs for its page, summed.
        .map(([name, each]) => [name, each.reduce((sum, buffers) => sum + buffers, 0)] as const)
        .filter(([name, touched]) => touched > (limits[name] ?? page))
        .map(([name, touched]) => `${name}: ${touched} buffers (limit ${Math.round(limits[name] ?? page)})`);
      expect(over).toEqual([]);
    } finally {
      await pool.end();
    }
  });

  it('pages in nanosecond order, each row once, across ties of microseconds and of nanoseconds', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      for (const filter of [{}, { state: 'crashed' }, { service: 'svc-2' }, { status: 'error' }] as ListFilter[]) {
        const expected = await db.query<{ trace_id: string }>(
          `SELECT t.trace_id FROM "${schema}".traces t
            WHERE ($1::text IS NULL OR t.service_name = $1)
              AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = t.trace_id AND s.state = $2))
              AND (NOT $3 OR EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = t.trace_id AND s.status_code = 'ERROR'))
            ORDER BY t.start_time_unix_nano DESC, t.trace_id DESC LIMIT ${PAGE_SIZE * 4}`,
          [filter.service ?? null, filter.state ?? null, filter.status === 'error'],
        );
        const seen: string[] = [];
        let after: string | undefined;
        for (let page = 0; page < 4; page++) {
          const result = await listTraces(pool, quoted, { ...filter, after });
          seen.push(...result.rows.map((row) => row.trace_id));
          after = result.next ?? undefined;
        }
        expect(seen).toEqual(expected.map((row) => row.trace_id));
      }
      const crashes: string[] = [];
      let after: string | undefined;
      for (let page = 0; page < 3; page++) {
        const result = await listCrashes(pool, quoted, { after });
        crashes.push(...result.rows.map((row) => `${row.trace_id}.${row.span_id}`));
        after = result.next ?? undefined;
      }
      const expected = await db.query<{ key: string }>(
        `SELECT trace_id || '.' || span_id AS key FROM "${schema}".spans WHERE state = 'crashed'
          ORDER BY end_time_unix_nano DESC, trace_id DESC, span_id DESC LIMIT ${PAGE_SIZE * 3}`,
      );
      expect(crashes).toEqual(expected.map((row) => row.key));
    } finally {
      await pool.end();
    }
  });

  it('bounds the crashes by their end as end_time does, at the millisecond a crash ended on', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      // Trace i = 5,700 crashed, and its span ended at BASE + 2 ms exactly (700 * 2,850 + 5,000 ns).
      const edge = new Date(Number(BASE / 1_000_000n) + 2);
      const [atEdge] = await db.query<{ key: string }>(`SELECT trace_id || '.' || span_id AS key FROM "${schema}".spans WHERE state = 'crashed' AND end_time = $1`, [edge]);
      expect(atEdge).toBeDefined();
      // About 57 crashes a millisecond: each window's fit in three pages, oldest last.
      const before = new Date(edge.getTime() - 1);
      const after1 = new Date(edge.getTime() + 1);
      for (const filter of [{ from: edge, to: after1 }, { from: before, to: edge }, { from: before, to: after1 }] as ListFilter[]) {
        const expected = await db.query<{ key: string }>(
          `SELECT trace_id || '.' || span_id AS key FROM "${schema}".spans
            WHERE state = 'crashed' AND ($1::timestamptz IS NULL OR end_time >= $1) AND ($2::timestamptz IS NULL OR end_time < $2)
            ORDER BY end_time_unix_nano DESC, trace_id DESC, span_id DESC LIMIT ${PAGE_SIZE * 3}`,
          [filter.from ?? null, filter.to ?? null],
        );
        const seen: string[] = [];
        let after: string | null = null;
        do {
          const result = await listCrashes(pool, quoted, { ...filter, ...(after !== null && { after }) });
          seen.push(...result.rows.map((row) => `${row.trace_id}.${row.span_id}`));
          after = result.next;
        } while (after !== null);
        expect(seen.length).toBeLessThan(PAGE_SIZE * 3);
        expect(seen).toEqual(expected.map((row) => row.key));
        expect(seen.includes(atEdge!.key)).toBe(filter.to! > edge);
      }
    } finally {
      await pool.end();
    }
  });

  it('pages the log lines outside spans newest first, each once, across ties of one nanosecond', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      for (const filter of [{}, { service: 'svc-1' }] as ListFilter[]) {
        const expected = await db.query<{ key: string }>(
          `SELECT writer_id || '/' || sequence AS key FROM "${schema}".logs
            WHERE kind = 'log' AND (trace_id IS NULL OR trace_flags = 0) AND ($1::text IS NULL OR service_name = $1)
            ORDER BY time_unix_nano DESC, writer_id COLLATE "C" DESC, sequence DESC LIMIT ${PAGE_SIZE * 4}`,
          [filter.service ?? null],
        );
        const seen: string[] = [];
        let after: string | undefined;
        for (let page = 0; page < 4; page++) {
          const result = await listLogsOutsideSpans(pool, quoted, { ...filter, after }, COLUMNS);
          seen.push(...result.rows.map((row) => `${row.writer_id}/${row.sequence}`));
          after = result.next ?? undefined;
        }
        expect(seen).toEqual(expected.map((row) => row.key));
      }
    } finally {
      await pool.end();
    }
  });

  it("shows a span's newest log lines, in time order, and says when earlier ones were left out", async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const [logged] = await db.query<{ trace_id: string; span_id: string }>(`SELECT trace_id, span_id FROM "${schema}".logs WHERE kind = 'log' AND writer_id = 'w' LIMIT 1`);
      const { logs, truncated } = await spanLogs(pool, quoted, logged!.trace_id, logged!.span_id, COLUMNS);
      expect(truncated).toBe(true);
      expect(logs).toHaveLength(MAX_SPAN_LOGS);
      // 1,200 lines and the span's event: the last 1,000 lines are the ones kept (the lines before a crash).
      expect(logs.at(-1)!.fields.body).toBe('line 1200');
      expect(logs[0]!.fields.body).toBe('line 201');
      // In the order they were logged, ties of the same nanosecond included.
      expect(logs.map((log) => log.fields.body)).toEqual(Array.from({ length: MAX_SPAN_LOGS }, (_, i) => `line ${i + 201}`));
    } finally {
      await pool.end();
    }
  });

  it("sends a span's log lines cut by PostgreSQL: a body or attributes of megabytes never leave the database whole", async () => {
    // Before: whole rows (to_jsonb(l)) came to the viewer, which cut strings only: a body of
    // 100,000 short values went to the browser whole, and 1,000 bodies of 20 MB took the
    // viewer's memory up by gigabytes for a page of 64 KiB each.
    const traceId = 'f'.repeat(32);
    const spanId = 'e'.repeat(16);
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, time, time_unix_nano, body, attributes)
       VALUES ('log', 'big', 1, $1, $2, now(), 1, (SELECT jsonb_object_agg('k' || i, 'v') FROM generate_series(1, 100000) i), '{}'),
              ('log', 'big', 2, $1, $2, now(), 2, to_jsonb(repeat('x', 300000)), (SELECT jsonb_object_agg('a' || i, i) FROM generate_series(1, 50000) i)),
              ('log', 'big', 3, $1, $2, now(), 3, to_jsonb(md5('seed') || repeat(md5(random()::text), 100000)), '{}'),
              ('log', 'big', 4, $1, $2, now(), 4, to_jsonb('small'::text), '{"small": 1}'),
              ('log', 'big', 5, $1, $2, now(), 5, to_jsonb(repeat('a', 150000)), '{}')`,
      [traceId, spanId],
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const { logs } = await spanLogs(pool, quoted, traceId, spanId, COLUMNS);
      expect(logs).toHaveLength(5);
      // 150,000 characters stored compressed in under 2 KiB: cut all the same.
      expect(String(logs[4]!.fields.body)).toMatch(/^a+… \(cut for the viewer\)$/);
      // Each large value at most MAX_SHOWN_CHARS characters of text (its quotes escaped in the response's JSON).
      for (const { fields } of logs) {
        for (const value of [fields.body, fields.attributes]) if (typeof value === 'string') expect(value.length).toBeLessThan(64 * 1024 + 32);
      }
      expect(JSON.stringify(logs).length).toBeLessThan(700 * 1024);
      expect(logs[3]!.fields).toMatchObject({ body: 'small', attributes: { small: 1 } });
      expect(String(logs[0]!.fields.body)).toMatch(/^\{"k1": "v"/);
      expect(String(logs[1]!.fields.attributes)).toMatch(/^\{"a1": 1/);
      expect(String(logs[2]!.fields.body)).toMatch(/^[0-9a-f]{32}/);
      expect(String(logs[2]!.fields.body)).toMatch(/… \(cut for the viewer\)$/);
    } finally {
      await pool.end();
    }
  });

  it('pages on past 1970 backwards: a cursor of a row that started before the epoch is a cursor too', async () => {
    await db.query(
      `INSERT INTO "${schema}".traces (trace_id, service_name, start_time, start_time_unix_nano)
       SELECT md5('before 1970 ' || i), 'svc-old', 'epoch'::timestamptz + ((-1000 * i) / 1000) * interval '1 microsecond', -1000 * i
         FROM generate_series(1, 60) i`,
    );
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      const seen: string[] = [];
      let after: string | undefined = `${BASE}.${'0'.repeat(32)}`;
      while (after !== undefined) {
        const result = await listTraces(pool, quoted, { after });
        seen.push(...result.rows.map((row) => row.start_time_unix_nano));
        after = result.next ?? undefined;
      }
      expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => String(-1000 * (i + 1))));
    } finally {
      await pool.end();
    }
  });
});
