// Log records committed with their spans: one transaction, every column, a 'started' row
// for a span the batch does not carry, idempotent replays, sanitising, dead letters.
import { SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { ATTR_CRASH_REASON, ATTR_END_TIME_ESTIMATED, ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { TestDatabase } from '../helpers/database.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { ids, traceOf, withAttributes } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('log_records');
  await migrateSchema(db.pool, schema);
  // Stands in for any value PostgreSQL refuses for one record (SQLSTATE class 23).
  await db.query(`ALTER TABLE "${schema}".logs ADD CONSTRAINT no_poison CHECK (NOT attributes ? 'poison')`);
  await db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT no_poison_span CHECK (NOT attributes ? 'poison')`);
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

const orphans = () =>
  db.count(
    `SELECT count(*) FROM "${schema}".logs l WHERE l.trace_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = l.trace_id AND s.span_id = l.span_id)`,
  );

describe('log records', () => {
  it("stores the resource's and the logger's schema URLs", async () => {
    const resource = resourceFromAttributes({ 'service.name': 'checkout' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' });
    const logs = await logRecords([{ record: { body: 'with schema URLs' } }], resource, { schemaUrl: 'https://opentelemetry.io/schemas/1.27.0' });
    expect(await exportBatch(exporter, [], logs)).toEqual({ code: ExportResultCode.SUCCESS });
    const rows = await db.query(`SELECT resource_schema_url, scope_schema_url FROM "${schema}".logs WHERE writer_id = $1`, [logs[0]!.writerId]);
    expect(rows).toEqual([{ resource_schema_url: 'https://opentelemetry.io/schemas/1.26.0', scope_schema_url: 'https://opentelemetry.io/schemas/1.27.0' }]);
  });

  it('stores every column of a log record with its span, nanoseconds kept', async () => {
    const [root, child] = await traceOf(2, 'logged');
    const spanContext = root!.spanContext();
    const logs = await logRecords([
      {
        record: {
          timestamp: [1763790123, 456789123],
          observedTimestamp: [1763790124, 7],
          severityNumber: SeverityNumber.WARN,
          severityText: 'WARN',
          body: { msg: 'charging card', amount: 12.5, tags: ['a', 'b'], raw: new Uint8Array([1, 2, 255]) },
          attributes: { 'order.id': 'o-1', retries: 2 },
          eventName: 'payment.attempt',
        },
        in: spanContext,
      },
      { record: { body: 'plain line', severityNumber: SeverityNumber.INFO }, in: spanContext },
      { record: { body: null as unknown as string } },
    ]);

    expect(await exportBatch(exporter, [root!, child!], logs)).toEqual({ code: ExportResultCode.SUCCESS });

    const rows = await db.query(
      `SELECT kind, writer_id, sequence, trace_id, span_id, trace_flags, time_unix_nano, observed_time_unix_nano,
              to_char(time AT TIME ZONE 'UTC', 'HH24:MI:SS.US') AS time_text, severity_number, severity_text, body,
              attributes, event_name, service_name, resource, scope_name, scope_version, event_index
         FROM "${schema}".logs WHERE writer_id = $1 ORDER BY sequence`,
      [logs[0]!.writerId],
    );
    expect(rows[0]).toEqual({
      kind: 'log',
      writer_id: logs[0]!.writerId,
      sequence: '0',
      trace_id: spanContext.traceId,
      span_id: spanContext.spanId,
      trace_flags: 1,
      time_unix_nano: '1763790123456789123',
      observed_time_unix_nano: '1763790124000000007',
      time_text: '05:42:03.456789',
      severity_number: SeverityNumber.WARN,
      severity_text: 'WARN',
      body: { msg: 'charging card', amount: 12.5, tags: ['a', 'b'], raw: 'AQL/' },
      attributes: { 'order.id': 'o-1', retries: 2 },
      event_name: 'payment.attempt',
      service_name: 'checkout',
      resource: { 'service.name': 'checkout', 'service.version': '1.2.3' },
      scope_name: 'otel-blackbox-test-logs',
      scope_version: '0.0.2',
      event_index: null,
    });
    expect(rows[1]).toMatchObject({ sequence: '1', body: 'plain line', severity_number: SeverityNumber.INFO, severity_text: null, event_name: null });
    // Outside any span: stored, with null ids; a null body is kept as JSON null.
    expect(rows[2]).toMatchObject({ sequence: '2', trace_id: null, span_id: null, trace_flags: null, body: null });
    const [nullBody] = await db.query(`SELECT body IS NULL AS sql_null, jsonb_typeof(body) AS type FROM "${schema}".logs WHERE writer_id = $1 AND sequence = 2`, [
      logs[0]!.writerId,
    ]);
    expect(nullBody).toEqual({ sql_null: false, type: 'null' });
    // The span events are still there beside the log records.
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'event' AND trace_id = $1`, [spanContext.traceId])).toBe(2);
    expect(await orphans()).toBe(0);
  });

  it("gives a log record's span a 'started' row when the batch does not carry it, and the span's own row replaces it in place", async () => {
    const spans = await traceOf(2, 'started-from-log');
    const root = spans.find((span) => span.parentSpanContext === undefined);
    const child = spans.find((span) => span !== root);
    const logs = await logRecords([{ record: { body: 'still working' }, in: child!.spanContext() }]);

    expect((await exportBatch(exporter, [], logs)).code).toBe(ExportResultCode.SUCCESS);
    const { traceId, spanId } = ids(child!);
    const spanRow = () => db.query(`SELECT state, name, end_time_unix_nano FROM "${schema}".spans WHERE trace_id = $1 AND span_id = $2`, [traceId, spanId]);
    expect(await spanRow()).toEqual([{ state: 'started', name: 'otel_blackbox.span_known_from_logs', end_time_unix_nano: null }]);
    expect(await db.count(`SELECT count(*) FROM "${schema}".traces WHERE trace_id = $1`, [traceId])).toBe(1);
    expect(await orphans()).toBe(0);

    expect((await exportBatch(exporter, [root!, child!], [])).code).toBe(ExportResultCode.SUCCESS);
    expect(await spanRow()).toEqual([{ state: 'ended', name: child!.name, end_time_unix_nano: expect.any(String) }]);
    // The stand-in row's parent is unknown, not absent: it never made the child the trace's root.
    expect(await db.query(`SELECT root_span_id, root_span_name FROM "${schema}".traces WHERE trace_id = $1`, [traceId])).toEqual([
      { root_span_id: ids(root!).spanId, root_span_name: root!.name },
    ]);

    // A later log record of the ended span leaves its row as it is.
    const late = await logRecords([{ record: { body: 'late line' }, in: child!.spanContext() }]);
    expect((await exportBatch(exporter, [], late)).code).toBe(ExportResultCode.SUCCESS);
    expect(await spanRow()).toEqual([{ state: 'ended', name: child!.name, end_time_unix_nano: expect.any(String) }]);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log' AND span_id = $1`, [spanId])).toBe(2);
  });

  it("replaces the stand-in row with the span's own 'started' row (a span still running), not only with its end", async () => {
    // Before: the stand-in and the span's 'started' row ranked the same, and the stored one
    // stayed: the running span showed nameless, parentless, without attributes, until it ended.
    const spans = await traceOf(2, 'running');
    const child = spans.find((span) => span.parentSpanContext !== undefined)!;
    const logs = await logRecords([{ record: { body: 'from another process' }, in: child.spanContext() }]);
    expect((await exportBatch(exporter, [], logs)).code).toBe(ExportResultCode.SUCCESS);
    const running = withAttributes(child, { ...child.attributes, [ATTR_SPAN_STATE]: 'started' }, { endTime: [0, 0] });
    expect((await exportBatch(exporter, [running], [])).code).toBe(ExportResultCode.SUCCESS);
    const { traceId, spanId } = ids(child);
    expect(await db.query(`SELECT state, name, parent_span_id FROM "${schema}".spans WHERE trace_id = $1 AND span_id = $2`, [traceId, spanId])).toEqual([
      { state: 'started', name: child.name, parent_span_id: child.parentSpanContext!.spanId },
    ]);
  });

  it("lets a log record's time move no trace's start: a stand-in row only makes the trace row when there is none", async () => {
    const spans = await traceOf(1, 'committed');
    expect((await exportBatch(exporter, spans, [])).code).toBe(ExportResultCode.SUCCESS);
    const { traceId } = ids(spans[0]!);
    const traceRow = () => db.query(`SELECT start_time_unix_nano AS start, end_time_unix_nano AS end FROM "${schema}".traces WHERE trace_id = $1`, [traceId]);
    const before = await traceRow();
    // A late line of the ended span, timestamped by the application in 2001.
    const late = await logRecords([{ record: { body: 'backdated', timestamp: Date.UTC(2001, 0, 1) }, in: spans[0]!.spanContext() }]);
    expect((await exportBatch(exporter, [], late)).code).toBe(ExportResultCode.SUCCESS);
    expect(await traceRow()).toEqual(before);
  });

  it("lets a backdated log line that comes first make its trace's row, but not date it: the spans' own start wins", async () => {
    const spans = await traceOf(1, 'later');
    const early = await logRecords([{ record: { body: 'backdated first', timestamp: Date.UTC(2001, 0, 1) }, in: spans[0]!.spanContext() }]);
    expect((await exportBatch(exporter, [], early)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportBatch(exporter, spans, [])).code).toBe(ExportResultCode.SUCCESS);
    const { traceId } = ids(spans[0]!);
    const [row] = await db.query<{ start: string }>(`SELECT start_time_unix_nano AS start FROM "${schema}".traces WHERE trace_id = $1`, [traceId]);
    const spanStart = BigInt(spans[0]!.startTime[0]) * 1_000_000_000n + BigInt(spans[0]!.startTime[1]);
    expect(BigInt(row!.start)).toBe(spanStart);
  });

  it("stores a log record whose time is not a number at its observed time, not at 1970", async () => {
    const logs = await logRecords([{ record: { body: 'nan-time', timestamp: Number.NaN } }]);
    expect((await exportBatch(exporter, [], logs)).code).toBe(ExportResultCode.SUCCESS);
    const [row] = await db.query<{ time: string; observed: string }>(
      `SELECT time_unix_nano AS time, observed_time_unix_nano AS observed FROM "${schema}".logs WHERE kind = 'log' AND body = '"nan-time"'`,
    );
    expect(row!.time).toBe(row!.observed);
    expect(BigInt(row!.time)).toBeGreaterThan(BigInt(Date.UTC(2020, 0, 1)) * 1_000_000n);
  });

  it('stores log records with the crash record of their span, and a crash record replaces a started row', async () => {
    const [root] = await traceOf(1, 'crashing');
    const logs = await logRecords([
      { record: { body: 'step 1' }, in: root!.spanContext() },
      { record: { body: 'last words' }, in: root!.spanContext() },
    ]);
    const started = withAttributes(root!, { [ATTR_SPAN_STATE]: 'started' }, { endTime: [0, 0] });
    const crashed = withAttributes(root!, { [ATTR_SPAN_STATE]: 'crashed', [ATTR_CRASH_REASON]: 'SIGKILL', [ATTR_END_TIME_ESTIMATED]: true }, { status: { code: SpanStatusCode.ERROR, message: 'SIGKILL' } });

    expect((await exportBatch(exporter, [started], logs.slice(0, 1))).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportBatch(exporter, [crashed], logs)).code).toBe(ExportResultCode.SUCCESS);

    const { traceId, spanId } = ids(root!);
    const rows = await db.query(
      `SELECT s.state, s.crash_reason, array_agg(l.body #>> '{}' ORDER BY l.sequence) AS lines
         FROM "${schema}".spans s JOIN "${schema}".logs l USING (trace_id, span_id)
        WHERE s.trace_id = $1 AND s.span_id = $2 AND l.kind = 'log' GROUP BY 1, 2`,
      [traceId, spanId],
    );
    expect(rows).toEqual([{ state: 'crashed', crash_reason: 'SIGKILL', lines: ['step 1', 'last words'] }]);
  });

  it('changes nothing when a batch is written again', async () => {
    const spans = await traceOf(3, 'replayed-logs');
    const logs = await logRecords([...spans.map((s, i) => ({ record: { body: `line ${i}` }, in: s.spanContext() })), { record: { body: 'outside' } }]);
    const snapshot = () =>
      db.query(`SELECT to_jsonb(l) - 'inserted_at' AS row FROM "${schema}".logs l WHERE writer_id = $1 OR trace_id = $2 ORDER BY (to_jsonb(l) - 'inserted_at')::text`, [
        logs[0]!.writerId,
        ids(spans[0]!).traceId,
      ]);

    expect((await exportBatch(exporter, spans, logs)).code).toBe(ExportResultCode.SUCCESS);
    const first = await snapshot();
    expect(first).toHaveLength(4 + 3);
    expect((await exportBatch(exporter, spans, logs)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportBatch(exporter, [], logs)).code).toBe(ExportResultCode.SUCCESS);
    expect(await snapshot()).toEqual(first);
  });

  it('repairs NUL and lone surrogates in bodies, attributes and keys', async () => {
    const BAD = 'a\u0000b\uD800c';
    const FIXED = 'a\uFFFDb\uFFFDc';
    const logs = await logRecords([{ record: { body: { [`k${BAD}`]: BAD, list: [BAD] }, severityText: BAD, attributes: { [`key${BAD}`]: BAD }, eventName: BAD } }]);
    expect((await exportBatch(exporter, [], logs)).code).toBe(ExportResultCode.SUCCESS);
    const [row] = await db.query(`SELECT body, attributes, severity_text, event_name FROM "${schema}".logs WHERE writer_id = $1`, [logs[0]!.writerId]);
    expect(row).toEqual({ body: { [`k${FIXED}`]: FIXED, list: [FIXED] }, attributes: { [`key${FIXED}`]: FIXED }, severity_text: FIXED, event_name: FIXED });
  });

  it('stores a body that refers to itself, or holds one object a billion times over, and the export completes', async () => {
    // Before: the live export copied a log body without a cycle check, down to depth 32: a
    // self-referring body made 2^32 copies, and the host's event loop never ran again
    // until it died of heap exhaustion.
    const cyclic: Record<string, unknown> = { msg: 'cycle' };
    cyclic.a = cyclic;
    cyclic.b = cyclic;
    let shared: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 30; i++) shared = { l: shared, r: shared };
    const logs = await logRecords([{ record: { body: cyclic as never } }, { record: { body: shared as never } }]);

    expect(await exportBatch(exporter, [], logs)).toEqual({ code: ExportResultCode.SUCCESS });

    const rows = await db.query<{ body: Record<string, unknown> }>(`SELECT body FROM "${schema}".logs WHERE writer_id = $1 ORDER BY sequence`, [logs[0]!.writerId]);
    expect(rows[0]!.body).toEqual({ msg: 'cycle', a: '[Circular]', b: '[Circular]' });
    expect(JSON.stringify(rows[1]!.body)).toContain('[Too large]');
  });

  it('stores a record whose body throws when read, with a placeholder, and a severity beyond 32 bits as unknown', async () => {
    // Before: a throwing getter lost the record (skipped, neither row nor dead letter), and a
    // severity number of 2^31 made binding the batch throw before PostgreSQL saw it, with
    // no SQLSTATE to isolate it by: the batch was retried for ever and nothing committed.
    const body = {
      msg: 'hostile',
      get boom(): string {
        throw new Error('getter throws');
      },
    };
    const logs = await logRecords([
      { record: { body: body as never } },
      { record: { body: 'too severe', severityNumber: 2 ** 31 } },
      { record: { body: 'fine', severityNumber: SeverityNumber.ERROR } },
    ]);

    expect(await exportBatch(exporter, [], logs)).toEqual({ code: ExportResultCode.SUCCESS });

    const rows = await db.query(`SELECT sequence, body, severity_number FROM "${schema}".logs WHERE writer_id = $1 ORDER BY sequence`, [logs[0]!.writerId]);
    expect(rows).toEqual([
      { sequence: '0', body: { msg: 'hostile', boom: '[Unserializable]' }, severity_number: null },
      { sequence: '1', body: 'too severe', severity_number: null },
      { sequence: '2', body: 'fine', severity_number: SeverityNumber.ERROR },
    ]);
  });

  it('dead-letters, by its key, a log record that cannot be made a row at all', async () => {
    const logs = await logRecords([{ record: { body: 'readable' } }, { record: { body: 'unreadable' } }]);
    // A record whose every field throws when read (a hand-made one, a Proxy).
    const hostile = new Proxy(logs[1]!.logRecord, {
      get() {
        throw new Error('nothing here can be read');
      },
    });
    const batch = [logs[0]!, { ...logs[1]!, logRecord: hostile }];

    expect(await exportBatch(exporter, [], batch)).toEqual({ code: ExportResultCode.SUCCESS });

    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE writer_id = $1`, [logs[0]!.writerId])).toBe(1);
    const letters = await db.query(`SELECT kind, sequence, trace_id, error_message FROM "${schema}".dead_letters WHERE writer_id = $1`, [logs[0]!.writerId]);
    expect(letters).toEqual([{ kind: 'log', sequence: '1', trace_id: null, error_message: expect.stringContaining('nothing here can be read') }]);
  });

  it('sends a log record PostgreSQL refuses to dead_letters and commits the rest of the batch', async () => {
    const spans = await traceOf(4, 'poisoned-log');
    const logs = await logRecords([
      ...spans.map((s, i) => ({ record: { body: `line ${i}`, attributes: i === 2 ? { poison: true } : {} }, in: s.spanContext() })),
      { record: { body: 'outside, poisoned', attributes: { poison: 1 } } },
    ]);
    const { traceId } = ids(spans[0]!);

    expect(await exportBatch(exporter, spans, logs)).toEqual({ code: ExportResultCode.SUCCESS });
    expect((await exportBatch(exporter, spans, logs)).code).toBe(ExportResultCode.SUCCESS);

    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1 AND state = 'ended'`, [traceId])).toBe(4);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE writer_id = $1`, [logs[0]!.writerId])).toBe(3);
    const letters = await db.query(
      `SELECT kind, sequence, trace_id, span_id, sql_state, attempts, record FROM "${schema}".dead_letters WHERE writer_id = $1 ORDER BY sequence`,
      [logs[0]!.writerId],
    );
    expect(letters).toMatchObject([
      { kind: 'log', sequence: '2', trace_id: traceId, span_id: ids(spans[2]!).spanId, sql_state: '23514', attempts: 2, record: { body: 'line 2', attributes: { poison: true } } },
      { kind: 'log', sequence: '4', trace_id: null, span_id: null, sql_state: '23514', attempts: 2 },
    ]);
    expect(await orphans()).toBe(0);
  });

  it('dead-letters the log records of a span PostgreSQL refuses with it: never a log row without its span row', async () => {
    const spans = await traceOf(4, 'poisoned-span');
    // The refused span is the second of four, each with one log record: isolating it halves
    // the batch until the span and its log record would stand apart.
    const batch = spans.map((s, i) => (i === 1 ? withAttributes(s, { ...s.attributes, poison: true }) : s));
    const logs = await logRecords(spans.map((s, i) => ({ record: { body: `line ${i}` }, in: s.spanContext() })));
    const { traceId } = ids(spans[0]!);

    expect(await exportBatch(exporter, batch, logs)).toEqual({ code: ExportResultCode.SUCCESS });

    expect(await orphans()).toBe(0);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [traceId])).toBe(3);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE writer_id = $1`, [logs[0]!.writerId])).toBe(3);
    const letters = await db.query<{ kind: string; span_id: string; sequence: string | null; error_message: string }>(
      `SELECT kind, span_id, sequence, error_message FROM "${schema}".dead_letters WHERE trace_id = $1 ORDER BY kind DESC`,
      [traceId],
    );
    expect(letters).toMatchObject([
      { kind: 'span', span_id: ids(spans[1]!).spanId },
      { kind: 'log', span_id: ids(spans[1]!).spanId, sequence: '1' },
    ]);
    expect(letters[1]!.error_message).toContain('its span was refused');
  });
});
