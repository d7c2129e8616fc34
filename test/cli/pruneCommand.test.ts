// `otel-blackbox prune --older-than 7d`: retention for a schema that otherwise grows for
// ever. Real rows through the public exporter, at real ages: a trace goes whole (its spans,
// their events and log records) once everything in it is older than the cutoff; log
// records outside any span and dead letters go by their own time; nothing newer is touched.
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { exportBatch, logRecords } from '../postgres/logFixtures.js';
import { ids, recordSpans, withAttributes } from '../postgres/spanFixtures.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { PAGES_PER_STATEMENT } from '../../src/postgres/prune.js';
import { ATTR_SPAN_STATE } from '../../src/spanMarkers.js';

const db = new TestDatabase();
const DAY = 24 * 3600 * 1000;
let schema: string;

afterAll(() => db.close());

function captured() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line), interactive: false } };
}

/** A trace of a root and a child with an event, started `startDaysAgo` and ended `endDaysAgo` (undefined: still running). */
async function traceAt(label: string, startDaysAgo: number, endDaysAgo?: number): Promise<ReadableSpan[]> {
  const start = Date.now() - startDaysAgo * DAY;
  const spans = await recordSpans((tracer) => {
    const root = tracer.startSpan(`${label} root`, { startTime: start }, ROOT_CONTEXT);
    const child = tracer.startSpan(`${label} child`, { startTime: start + 1 }, trace.setSpan(ROOT_CONTEXT, root));
    child.addEvent('checkpoint', { step: 1 }, start + 2);
    child.end(start + 3);
    if (endDaysAgo !== undefined) root.end(Date.now() - endDaysAgo * DAY);
  });
  return spans;
}

interface Seeded {
  old: ReadableSpan[];
  recent: ReadableSpan[];
  longRunning: ReadableSpan[];
}

/** What each test starts from, through the exporter (and, for dead letters, as its rows are). */
async function seed(): Promise<Seeded> {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const old = await traceAt('old', 10, 10);
  const recent = await traceAt('recent', 1, 1);
  // Started 10 days ago, ended yesterday: newer than the cutoff as a whole, so kept.
  const longRunning = await traceAt('long', 10, 1);
  const oldChild = old.find((span) => span.name === 'old child')!;
  const logs = await logRecords([
    { record: { body: 'old, in a span', severityNumber: SeverityNumber.INFO, timestamp: Date.now() - 10 * DAY, observedTimestamp: Date.now() - 10 * DAY }, in: oldChild.spanContext() },
    { record: { body: 'old, outside any span', severityNumber: SeverityNumber.WARN, timestamp: Date.now() - 9 * DAY, observedTimestamp: Date.now() - 9 * DAY } },
    { record: { body: 'recent, outside any span', severityNumber: SeverityNumber.WARN, timestamp: Date.now() - DAY } },
  ]);
  expect(await exportBatch(exporter, [...old, ...recent, ...longRunning], logs)).toEqual({ code: ExportResultCode.SUCCESS });
  await exporter.shutdown();
  await db.query(
    `INSERT INTO "${schema}".dead_letters (trace_id, span_id, error_message, first_seen_at, last_seen_at)
     VALUES ($1, $2, 'old', now() - interval '9 days', now() - interval '9 days'),
            ($3, $4, 'recent', now() - interval '1 day', now() - interval '1 day')`,
    ['a'.repeat(32), 'b'.repeat(16), 'c'.repeat(32), 'd'.repeat(16)],
  );
  return { old, recent, longRunning };
}

async function rows() {
  const names = await db.query<{ name: string }>(`SELECT name FROM "${schema}".spans ORDER BY name`);
  const traces = await db.count(`SELECT count(*) FROM "${schema}".traces`);
  const events = await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'event'`);
  const bodies = await db.query<{ body: string }>(`SELECT body #>> '{}' AS body FROM "${schema}".logs WHERE kind = 'log' ORDER BY body`);
  const deadLetters = await db.query<{ error_message: string }>(`SELECT error_message FROM "${schema}".dead_letters ORDER BY error_message`);
  return { spans: names.map((r) => r.name), traces, events, logs: bodies.map((r) => r.body), deadLetters: deadLetters.map((r) => r.error_message) };
}

describe('otel-blackbox prune', () => {
  beforeEach(async () => {
    schema = await db.freshSchema('prune');
  });

  describe.each([1, 1000])('with --batch %i', (batch) => {
    test('removes whole traces older than the cutoff, with their events and log records, and older lines outside spans and dead letters; keeps the rest', async () => {
      const seeded = await seed();
      const { out, err, io } = captured();
      expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d', '--batch', String(batch)], io)).toBe(0);
      expect(err).toEqual([]);
      expect(out.join('\n')).toMatch(/removed 1 trace \(2 spans, 1 span event, 1 log record\), 1 log record outside any span and 1 dead letter older than \d{4}-\d\d-\d\dT/);
      expect(await rows()).toEqual({
        spans: ['long child', 'long root', 'recent child', 'recent root'],
        traces: 2,
        events: 2,
        logs: ['recent, outside any span'],
        deadLetters: ['recent'],
      });
      expect(await db.count(`SELECT count(*) FROM "${schema}".traces WHERE trace_id = $1`, [ids(seeded.old[0]!).traceId])).toBe(0);
      // Again: nothing more is older.
      const again = captured();
      expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], again.io)).toBe(0);
      expect(again.out.join('\n')).toContain('removed nothing: no trace, log record or dead letter is older than');
    });
  });

  test('a trace still running (no end) is removed once it started before the cutoff', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const running = (await traceAt('stuck', 10)).filter((span) => span.name === 'stuck child');
    expect(await exportBatch(exporter, running, [])).toEqual({ code: ExportResultCode.SUCCESS });
    await exporter.shutdown();
    const { io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(0);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(0);
  });

  test('log records outside spans go in one pass over the table, batch after batch, interleaved with newer ones', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const records = Array.from({ length: 50 }, (_, i) => ({ record: { body: `line ${i}`, timestamp: Date.now() - (i % 2 === 0 ? 9 : 1) * DAY, observedTimestamp: Date.now() - (i % 2 === 0 ? 9 : 1) * DAY } }));
    expect(await exportBatch(exporter, [], await logRecords(records))).toEqual({ code: ExportResultCode.SUCCESS });
    await exporter.shutdown();
    const { out, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d', '--batch', '4'], io)).toBe(0);
    expect(out.join('\n')).toContain('removed 0 traces (0 spans, 0 span events, 0 log records), 25 log records outside any span and 0 dead letters');
    const left = await db.query<{ body: string }>(`SELECT body #>> '{}' AS body FROM "${schema}".logs ORDER BY sequence`);
    expect(left.map((row) => row.body)).toEqual(records.filter((_, i) => i % 2 === 1).map(({ record }) => record.body));
  });

  test('log records outside spans over many pages: every old one goes, every newer one stays', async () => {
    // 60,000 rows of ~400 bytes (some 30 MiB: several PAGES_PER_STATEMENT windows), old and
    // recent interleaved, written as exporters write them.
    await migrateSchema(db.pool, schema);
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, time, time_unix_nano, body)
       SELECT 'log', 'w', n, now() - CASE WHEN n % 2 = 0 THEN interval '9 days' ELSE interval '1 day' END, 0, to_jsonb(repeat('x', 400))
         FROM generate_series(1, 60000) n`,
    );
    expect(await db.count(`SELECT pg_relation_size('"${schema}".logs') / current_setting('block_size')::int AS count`)).toBeGreaterThan(2 * PAGES_PER_STATEMENT);
    const { out, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(0);
    expect(out.join('\n')).toContain('30,000 log records outside any span');
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE sequence % 2 = 0`)).toBe(0);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE sequence % 2 = 1`)).toBe(30_000);
  });

  test('a trace with a log record newer than the cutoff stays whole: a span known only from its lines, a running root', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    // A job's span that has not ended: known from its log lines only, the first 10 days old.
    const job = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceFlags: 1, isRemote: false };
    const jobLines = await logRecords([
      { record: { body: 'job started', timestamp: Date.now() - 10 * DAY, observedTimestamp: Date.now() - 10 * DAY }, in: job },
      { record: { body: 'job still going', timestamp: Date.now() - 3600_000 }, in: job },
    ]);
    // A root started 10 days ago, still running, whose child ended 8 days ago; a line of the root a minute ago.
    let root!: ReadableSpan;
    const spans = await recordSpans((tracer) => {
      const running = tracer.startSpan('long job', { startTime: Date.now() - 10 * DAY }, ROOT_CONTEXT);
      root = running as unknown as ReadableSpan;
      tracer.startSpan('setup', { startTime: Date.now() - 10 * DAY + 1 }, trace.setSpan(ROOT_CONTEXT, running)).end(Date.now() - 8 * DAY);
    });
    const rootLine = await logRecords([{ record: { body: 'root: still going', timestamp: Date.now() - 60_000 }, in: root.spanContext() }]);
    expect(await exportBatch(exporter, spans, [...jobLines, ...rootLine])).toEqual({ code: ExportResultCode.SUCCESS });
    await exporter.shutdown();
    const before = await rows();
    const { out, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(0);
    expect(out.join('\n')).toContain('removed nothing');
    expect(await rows()).toEqual(before);
  });

  test("a trace whose span in flight ('started' row) started before the cutoff and said nothing since goes; with a newer line it stays", async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const quiet = await traceAt('quiet', 10, 10);
    const talking = await traceAt('talking', 10, 10);
    // Each root as the processor exports a long-running span: a 'started' row.
    const startedRow = (spans: ReadableSpan[], label: string) => withAttributes(spans.find((span) => span.name === `${label} root`)!, { [ATTR_SPAN_STATE]: 'started' }, { endTime: [0, 0], ended: false });
    const childOf = (spans: ReadableSpan[], label: string) => spans.find((span) => span.name === `${label} child`)!;
    const line = await logRecords([{ record: { body: 'still at it', timestamp: Date.now() - 60_000 }, in: startedRow(talking, 'talking').spanContext() }]);
    expect(await exportBatch(exporter, [startedRow(quiet, 'quiet'), childOf(quiet, 'quiet'), startedRow(talking, 'talking'), childOf(talking, 'talking')], line)).toEqual({
      code: ExportResultCode.SUCCESS,
    });
    await exporter.shutdown();
    const { io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(0);
    expect((await rows()).spans).toEqual(['talking child', 'talking root']);
  });

  test.each([
    ['a span in flight that began after the cutoff', (start: number) => ({ startTime: Date.now() - 2 * DAY, eventTime: start + 2, observed: undefined as number | undefined })],
    ['an event since the cutoff', (start: number) => ({ startTime: start + 1, eventTime: Date.now() - 60_000, observed: undefined as number | undefined })],
    ['a log line observed since the cutoff, though dated before it (forwarded logs)', (start: number) => ({ startTime: start + 1, eventTime: start + 2, observed: Date.now() - 60_000 as number | undefined })],
  ])('a trace whose root started before the cutoff stays whole with %s', async (_label, shape) => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const start = Date.now() - 10 * DAY;
    const { startTime, eventTime, observed } = shape(start);
    let step!: ReadableSpan;
    const spans = await recordSpans((tracer) => {
      const root = tracer.startSpan('batch job', { startTime: start }, ROOT_CONTEXT);
      tracer.startSpan('step 1', { startTime: start + 1 }, trace.setSpan(ROOT_CONTEXT, root)).end(Date.now() - 9 * DAY);
      const running = tracer.startSpan('step 2', { startTime }, trace.setSpan(ROOT_CONTEXT, root));
      running.addEvent('progress', {}, eventTime);
      step = running as unknown as ReadableSpan;
      root.end(start + 3);
    });
    // Step 2 as the processor exports a span in flight: a 'started' row.
    const stepRow = withAttributes(step, { [ATTR_SPAN_STATE]: 'started' }, { endTime: [0, 0], ended: false });
    const lines = observed === undefined ? [] : await logRecords([{ record: { body: 'forwarded', timestamp: start + 2, observedTimestamp: observed }, in: step.spanContext() }]);
    expect(await exportBatch(exporter, [...spans.filter((span) => span.name !== 'step 2'), stepRow], lines)).toEqual({ code: ExportResultCode.SUCCESS });
    await exporter.shutdown();
    const { out, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(0);
    expect(out.join('\n')).toContain('removed nothing');
    expect((await rows()).spans).toEqual(['batch job', 'step 1', 'step 2']);
  });

  test("whatever the session's DateStyle (a database or role may set one node-postgres cannot parse)", async () => {
    await seed();
    const url = new URL(db.url);
    url.searchParams.set('options', '-c DateStyle=SQL,DMY');
    const { out, err, io } = captured();
    expect(await main(['prune', '--database', url.toString(), '--schema', schema, '--older-than', '7d', '--batch', '1'], io)).toBe(0);
    expect(err).toEqual([]);
    expect(out.join('\n')).toContain('removed 1 trace (2 spans, 1 span event, 1 log record)');
  });

  test('--dry-run counts what would go and changes nothing', async () => {
    await seed();
    const before = await rows();
    const { out, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d', '--dry-run'], io)).toBe(0);
    expect(out.join('\n')).toMatch(/would remove 1 trace \(2 spans, 1 span event, 1 log record\), 1 log record outside any span and 1 dead letter older than /);
    expect(await rows()).toEqual(before);
  });

  test('--dry-run with nothing to remove says so as a dry run', async () => {
    await migrateSchema(db.pool, schema);
    const { out, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d', '--dry-run'], io)).toBe(0);
    expect(out.join('\n')).toContain('would remove nothing: no trace, log record or dead letter is older than');
  });

  test.each([
    [[], '--older-than is required: how old data must be to go, as a number of days, hours or minutes (7d, 12h, 90m)'],
    [['--older-than', '7x'], '--older-than expects a number of days, hours or minutes (7d, 12h, 90m), got "7x"'],
    [['--older-than', '0d'], '--older-than expects a number of days, hours or minutes (7d, 12h, 90m), got "0d"'],
    [['--older-than', '7d', '--batch', '0'], '--batch expects a positive whole number in decimal digits, got "0"'],
  ])('bad options are usage errors naming them: %j', async (args, message) => {
    const { out, err, io } = captured();
    expect(await main(['prune', '--database', db.url, ...args], io)).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toContain(message);
  });

  test.each([[[]], [['--dry-run']]])('against a schema a newer otel-blackbox has migrated, refuses and deletes nothing, exit 1 (it pruned): %j', async (extra) => {
    const { old } = await seed();
    await db.query(`INSERT INTO "${schema}".migrations (version, name, oldest_writer) VALUES (99, 'from the future', 1)`);
    const before = await rows();
    expect(before.spans).toContain(old[0].name);
    const { out, err, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d', ...extra], io)).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toContain(`Schema "${schema}" is at migration version 99`);
    expect(err.join('\n')).toContain('refusing to prune it');
    expect(await rows()).toEqual(before);
  });

  test("against a schema whose migrations table is another tool's (TypeORM's, say), says so, exit 1 (it blamed a newer otel-blackbox)", async () => {
    await db.query(`CREATE SCHEMA "${schema}"`);
    await db.query(`CREATE TABLE "${schema}".migrations (id serial PRIMARY KEY, timestamp bigint NOT NULL, name varchar NOT NULL, version bigint)`);
    await db.query(`INSERT INTO "${schema}".migrations (timestamp, name, version) VALUES (1700000000000, 'Init1700000000000', 1700000000000)`);
    const { out, err, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toContain(`Schema "${schema}" holds a table named migrations that is not otel-blackbox's`);
  });

  test('against a schema without our tables, exits 1 saying to migrate it', async () => {
    const { err, io } = captured();
    expect(await main(['prune', '--database', db.url, '--schema', schema, '--older-than', '7d'], io)).toBe(1);
    expect(err.join('\n')).toContain(`create them with otel-blackbox migrate --schema ${schema}`);
  });
});
