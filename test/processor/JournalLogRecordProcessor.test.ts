// JournalLogRecordProcessor: log records journaled before onEmit returns and committed with
// their spans (a 'started' row for a span still open, replaced in place when it ends), a
// record outside any span stored with null ids, a logExporter behind other exporters, and
// constructors that refuse a setup which would drop log records.
import { context, diag, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';
import { segmentNames } from '../helpers/journalFiles.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'journal_log_record_processor', (name) => (schema = name));

/** Whether this SDK line keeps a Uint8Array in a logger's scope attributes, as the stock pipeline exports it. */
async function stockScopeKeepsBytes(): Promise<boolean> {
  const emitted: { instrumentationScope: { attributes?: object } }[] = [];
  // A processor of the plainest kind: what the SDK hands any processor, on either line.
  const keeping = { onEmit: (record: never) => void emitted.push(record), forceFlush: async () => {}, shutdown: async () => {} };
  const provider = new LoggerProvider({ processors: [keeping] });
  provider.getLogger('probe', '1.0', { attributes: { key: new Uint8Array([1]) } } as never).emit({ body: 'probe' });
  await provider.shutdown();
  return 'key' in (emitted[0]!.instrumentationScope.attributes ?? {});
}

/** Our processors behind a span exporter that is not ours, their log records going to an in-memory logExporter. */
function logsBehindLogExporter() {
  const logsOut = new InMemoryLogRecordExporter();
  const spans = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter: logsOut, journalDir: tempDir(), recover: false, scheduledDelayMillis: 10 });
  const provider = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: spans })] });
  return { logsOut, spans, provider };
}

function loggerFor(spanProcessor: JournalSpanProcessor, service: string) {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    processors: [new JournalLogRecordProcessor({ spanProcessor })],
  });
  return { provider, logger: provider.getLogger('app-logs', '1.0.0') };
}

describe('JournalLogRecordProcessor', () => {
  it('refuses a span processor that could not export log records, naming logExporter', () => {
    const dir = tempDir();
    const other = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: dir, recover: false });
    expect(() => new JournalLogRecordProcessor({ spanProcessor: other })).toThrow(/`logExporter`/);
    const none = new JournalSpanProcessor({ exporter: new CollectingExporter(), durability: 'none', logExporter: new InMemoryLogRecordExporter() });
    expect(() => new JournalLogRecordProcessor({ spanProcessor: none })).toThrow(/durability is 'none', so there is no journal to write log records to: use durability 'process' or 'host'/);
    expect(() => new JournalLogRecordProcessor({ spanProcessor: {} as JournalSpanProcessor })).toThrow(/spanProcessor/);
    expect(() => new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter: {} as InMemoryLogRecordExporter })).toThrow(/logExporter/);
    return Promise.all([other.shutdown(), none.shutdown()]);
  });

  it("takes OTEL_BLACKBOX_DURABILITY=none without throwing: log records are dropped, counted and said (the environment never takes the application down)", async () => {
    const lines = collectDiag();
    vi.stubEnv('OTEL_BLACKBOX_DURABILITY', 'none');
    try {
      const spans = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter: new InMemoryLogRecordExporter() });
      const { provider, logger } = loggerFor(spans, 'durability-none-from-env');
      logger.emit({ body: 'no journal to write it to' });
      expect(spans.stats()).toMatchObject({ logRecordsDropped: 1, logRecordsDroppedByReason: { "durability 'none'": 1 } });
      expect(lines.filter((line) => line.includes('OTEL_BLACKBOX_DURABILITY=none'))).toHaveLength(1);
      await provider.shutdown();
      await spans.shutdown();
    } finally {
      vi.unstubAllEnvs();
      diag.disable();
    }
  });

  it('journals a log record before onEmit returns', async () => {
    const journalDir = tempDir();
    const spans = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter: new InMemoryLogRecordExporter(), journalDir, recover: false, scheduledDelayMillis: 60_000 });
    const { provider, logger } = loggerFor(spans, 'journaled');
    logger.emit({ body: 'written before emit returns: marker-7f3a', severityNumber: SeverityNumber.INFO });
    const [writerDir] = readdirSync(journalDir);
    const segments = segmentNames(join(journalDir, writerDir!));
    const bytes = segments.map((name) => readFileSync(join(journalDir, writerDir!, name), 'latin1')).join('');
    expect(bytes).toContain('marker-7f3a');
    await provider.shutdown();
    await spans.shutdown();
  });

  it('journals a body that holds one object a billion times over in bounded time, cut at MAX_VALUES', async () => {
    // 30 levels of { l: x, r: x } are 2^31 values: copying each on the application's thread
    // doubled in time with every level (1 s at 20), so emit() never returned.
    let shared: Record<string, unknown> = { leaf: 'marker-dag' };
    for (let i = 0; i < 30; i++) shared = { l: shared, r: shared };
    const journalDir = tempDir();
    const spans = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter: new InMemoryLogRecordExporter(), journalDir, recover: false, scheduledDelayMillis: 60_000 });
    const { provider, logger } = loggerFor(spans, 'dag');
    logger.emit({ body: shared as never });
    const [writerDir] = readdirSync(journalDir);
    const bytes = segmentNames(join(journalDir, writerDir!))
      .map((name) => readFileSync(join(journalDir, writerDir!, name), 'latin1'))
      .join('');
    expect(bytes).toContain('marker-dag');
    expect(bytes).toContain('[Too large]');
    await provider.shutdown();
    await spans.shutdown();
  });

  it("gives a record logged from inside another's encoding (a body's toJSON) a sequence of its own, and runs that code once", async () => {
    // Before: the nested record took the outer one's sequence number, ON CONFLICT kept one
    // of the two, and the toJSON ran again at export and logged once more.
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const spans = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, scheduledDelayMillis: 10 });
    const { provider, logger } = loggerFor(spans, 'reentrant');
    let calls = 0;
    logger.emit({ body: 'reentrant: first' });
    logger.emit({
      body: {
        toJSON() {
          calls += 1;
          logger.emit({ body: 'reentrant: nested' });
          return 'reentrant: outer';
        },
      } as never,
    });
    logger.emit({ body: 'reentrant: last' });
    await provider.forceFlush();

    const rows = await db.query<{ body: string }>(`SELECT body FROM "${schema}".logs WHERE kind = 'log' AND body::text LIKE '"reentrant:%' ORDER BY body`);
    expect(rows.map((row) => row.body)).toEqual(['reentrant: first', 'reentrant: last', 'reentrant: nested', 'reentrant: outer']);
    expect(calls).toBe(1);
    await provider.shutdown();
  });

  it("commits log records with their span's row: final, 'started' while open and then ended in place, null ids outside a span", async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const spans = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, scheduledDelayMillis: 10 });
    const tracerProvider = providerWith(spans, 'logs-with-spans');
    const tracer = tracerProvider.getTracer('app');
    const { provider, logger } = loggerFor(spans, 'logs-with-spans');

    const done = tracer.startSpan('charge card');
    logger.emit({ body: 'charging', context: trace.setSpan(context.active(), done) });
    done.end();
    const open = tracer.startSpan('long job', { attributes: { 'job.id': 42 } });
    logger.emit({ body: { step: 1, of: 3 }, severityText: 'INFO', context: trace.setSpan(context.active(), open) });
    logger.emit({ body: 'no span here' });
    await provider.forceFlush();

    const rowsOf = (spanId: string) =>
      db.query(
        `SELECT s.state, s.name, s.attributes ->> 'job.id' AS job, array_agg(l.body ORDER BY l.sequence) AS bodies
           FROM "${schema}".spans s JOIN "${schema}".logs l USING (trace_id, span_id)
          WHERE s.span_id = $1 AND l.kind = 'log' GROUP BY 1, 2, 3`,
        [spanId],
      );
    expect(await rowsOf(done.spanContext().spanId)).toEqual([{ state: 'ended', name: 'charge card', job: null, bodies: ['charging'] }]);
    expect(await rowsOf(open.spanContext().spanId)).toEqual([{ state: 'started', name: 'long job', job: '42', bodies: [{ step: 1, of: 3 }] }]);
    const outside = await db.query(`SELECT trace_id, span_id, service_name FROM "${schema}".logs WHERE kind = 'log' AND body = '"no span here"'`);
    expect(outside).toEqual([{ trace_id: null, span_id: null, service_name: 'logs-with-spans' }]);

    open.end();
    await tracerProvider.forceFlush();
    expect(await rowsOf(open.spanContext().spanId)).toEqual([{ state: 'ended', name: 'long job', job: '42', bodies: [{ step: 1, of: 3 }] }]);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE span_id = $1`, [open.spanContext().spanId])).toBe(1);
    await provider.shutdown();
    await tracerProvider.shutdown();
  });

  it('sends log records to the logExporter behind an exporter that is not ours', async () => {
    const spansOut = new CollectingExporter();
    const logsOut = new InMemoryLogRecordExporter();
    const spans = new JournalSpanProcessor({ exporter: spansOut, logExporter: logsOut, journalDir: tempDir(), recover: false, scheduledDelayMillis: 10 });
    const tracerProvider = providerWith(spans, 'otlp-like');
    const { provider, logger } = loggerFor(spans, 'otlp-like');
    const span = tracerProvider.getTracer('app').startSpan('work');
    logger.emit({ body: 'inside', context: trace.setSpan(context.active(), span), attributes: { raw: new Uint8Array([0, 255]) } });
    span.end();
    logger.emit({ body: 'after' });
    await provider.forceFlush();

    expect(spansOut.spans.map((s) => s.name)).toEqual(['work']);
    const records = logsOut.getFinishedLogRecords();
    expect(records.map((r) => r.body)).toEqual(['inside', 'after']);
    expect(records[0]!.spanContext?.spanId).toBe(span.spanContext().spanId);
    expect(records[0]!.attributes.raw).toEqual(new Uint8Array([0, 255]));
    await provider.shutdown();
    await tracerProvider.shutdown();
  });

  // A differential review on the 3.x line: a logger's scope attributes (`getLogger(name,
  // version, { attributes })`) were left out of the journal, so lost read back (a record
  // copied with care, a recovery), and two loggers told apart by them gave one scope.
  it("keeps a logger's scope attributes for the logExporter, live and read back from the journal", async () => {
    const { logsOut, spans, provider } = logsBehindLogExporter();
    const key = new Uint8Array([1, 2]);
    const logger = provider.getLogger('payments', '1.0', { attributes: { tenant: 'acme', 'deployment.ring': 2, key } } as never);
    // Plain: the application's record goes out as it is. A map body: the journal's copy, read back.
    logger.emit({ body: 'plain' });
    logger.emit({ body: { copied: 'with care' } as never });
    // The 2.x line keeps bytes in a scope's attributes, by reference; the 3.x line keeps
    // simple values only (as in resources), and drops them.
    const keepsBytes = await stockScopeKeepsBytes();
    // Bytes the SDK keeps by reference, filled again: both went out as they were at emit() (a review).
    key.fill(9);
    await provider.forceFlush();
    const scopeAttributes = { tenant: 'acme', 'deployment.ring': 2, ...(keepsBytes ? { key: new Uint8Array([1, 2]) } : {}) };
    const records = logsOut.getFinishedLogRecords();
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(record.instrumentationScope).toMatchObject({ name: 'payments', version: '1.0' });
      const kept = (record.instrumentationScope as { attributes?: Record<string, unknown> }).attributes;
      expect(kept).toEqual(scopeAttributes);
      if (keepsBytes) expect(kept?.key).toBeInstanceOf(Uint8Array);
    }
    await provider.shutdown();
    await spans.shutdown();
  });

  // A review: each LOG repeated its scope's attributes (1 MB of them, 50 lines: 52 MB of
  // journal, 421 ms inside emit()), and a map past a frame made the record unreadable, lost
  // without a count. Past 4,096 characters of JSON they are left out, and said once.
  it("leaves out a logger's scope attributes past 4,096 characters, says so once, and journals its records", async () => {
    const { logsOut, spans, provider } = logsBehindLogExporter();
    const lines = collectDiag();
    try {
      const logger = provider.getLogger('bulky-scope', '1.0', { attributes: { blob: 'x'.repeat(1_000_000) } } as never);
      const before = spans.stats().journalBytesWritten;
      for (let i = 0; i < 50; i++) logger.emit({ body: `line ${i}` });
      expect(spans.stats().journalBytesWritten - before).toBeLessThan(50 * 1024);
      await provider.forceFlush();
      const records = logsOut.getFinishedLogRecords();
      expect(records.map((record) => record.body)).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}`));
      expect(lines.filter((line) => line.includes('scope attributes of logger "bulky-scope"'))).toHaveLength(1);
    } finally {
      diag.disable();
      await provider.shutdown();
      await spans.shutdown();
    }
  });

  it('journals a log record it is given after its own shutdown while the span processor still runs', async () => {
    const spansOut = new CollectingExporter();
    const logsOut = new InMemoryLogRecordExporter();
    const spans = new JournalSpanProcessor({ exporter: spansOut, logExporter: logsOut, journalDir: tempDir(), recover: false, scheduledDelayMillis: 10 });
    const tracerProvider = providerWith(spans, 'shared-log-processor');
    // One processor in two LoggerProviders (sdk-logs' own Logger stops at its provider's
    // shutdown, before any processor sees the record): the first provider's shutdown is
    // the processor's.
    const logProcessor = new JournalLogRecordProcessor({ spanProcessor: spans });
    const first = new LoggerProvider({ processors: [logProcessor] });
    const second = new LoggerProvider({ processors: [logProcessor] });
    const logger = second.getLogger('app');
    logger.emit({ body: 'before' });
    await first.shutdown();
    logger.emit({ body: 'after' });
    await spans.forceFlush();
    expect(logsOut.getFinishedLogRecords().map((r) => r.body)).toEqual(['before', 'after']);
    expect(spans.stats()).toMatchObject({ logRecordsDropped: 0 });
    await tracerProvider.shutdown();
  });

  it('counts a log record emitted after the span processor shut down, and says so once', async () => {
    const lines = collectDiag();
    try {
      const spans = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter: new InMemoryLogRecordExporter(), journalDir: tempDir(), recover: false });
      const { provider, logger } = loggerFor(spans, 'late-logger');
      await spans.shutdown();
      logger.emit({ body: 'after tracing shut down' });
      logger.emit({ body: 'and again' });
      expect(spans.stats()).toMatchObject({ logRecordsDropped: 2, logRecordsDroppedByReason: { 'span processor shut down': 2 } });
      expect(lines.filter((line) => line.includes('emitted after JournalSpanProcessor shut down'))).toHaveLength(1);
      // No overflow marker can be written any more: none is promised.
      expect(lines.filter((line) => line.includes('overflow marker'))).toEqual([]);
      await provider.shutdown();
    } finally {
      diag.disable();
    }
  });

  describe('a log record larger than one journal frame (64 MiB)', () => {
    async function emittedInSpan(body: unknown, service: string) {
      const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
      const spans = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, scheduledDelayMillis: 10, flushTimeoutMillis: 60_000 });
      const tracerProvider = providerWith(spans);
      const { provider, logger } = loggerFor(spans, service);
      const span = tracerProvider.getTracer('big').startSpan('holds a big log line');
      logger.emit({ body: body as never, severityText: 'ERROR', attributes: { marker: service }, context: trace.setSpan(context.active(), span) });
      span.end();
      await provider.forceFlush();
      const stats = spans.stats();
      await provider.shutdown();
      await tracerProvider.shutdown();
      const [row] = await db.query<Record<string, unknown>>(
        `SELECT trace_id, span_id, severity_text, scope_name, body IS NOT NULL AS has_body, attributes->>'marker' AS marker,
                (attributes->>'otel_blackbox.truncated')::int AS truncated
           FROM "${schema}".logs WHERE kind = 'log' AND attributes->>'marker' = $1`,
        [service],
      );
      return { row, stats, span: span.spanContext() };
    }

    it('is cut down in its contents only: it stays in its span, with its severity and scope', async () => {
      // 65,536 strings of 300 control characters (6 JSON characters each): cut with the
      // smallest limit, the record itself kept 4 of its keys, and the line was stored as
      // outside any span, with no body, severity or scope.
      const leaf = '\u0001'.repeat(300);
      const tree = (depth: number): unknown => (depth === 0 ? leaf : Array.from({ length: 16 }, () => tree(depth - 1)));
      const { row, stats, span } = await emittedInSpan(tree(4), 'big-tree');
      expect(stats).toMatchObject({ logRecordsDropped: 0, hotPathErrors: 0 });
      expect(row).toMatchObject({ trace_id: span.traceId, span_id: span.spanId, severity_text: 'ERROR', scope_name: 'app-logs', has_body: true });
      expect(row!.truncated).toBeGreaterThan(0);
    }, 120_000);

    it('whose JSON would be longer than V8 allows a string to be, is cut, not lost', async () => {
      // 90 million control characters: 540 million characters of JSON. JSON.stringify threw
      // (twice), the record was skipped with its sequence number, counted nowhere but as the
      // first hot-path error.
      const { row, stats } = await emittedInSpan('\u0001'.repeat(90_000_000), 'too-long');
      expect(stats).toMatchObject({ logRecordsDropped: 0, hotPathErrors: 0 });
      expect(row).toMatchObject({ severity_text: 'ERROR', has_body: true });
      expect(row!.truncated).toBe(1);
    }, 120_000);
  });
});
