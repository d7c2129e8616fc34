// An Error as a log record's body, or inside a body's map: its message, stack and cause
// are not enumerable and its name is inherited, so it was stored as {} (review repro 04).
// It is stored as its name, message, stack, cause and own enumerable properties, the same
// whether the record is exported live or read back from a dead process's journal.
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider, type ReadableSpan, type Span } from '@opentelemetry/sdk-trace';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { JournalLogRecordProcessor } from '../../src/processor/JournalLogRecordProcessor.js';
import { JournalSpanProcessor } from '../../src/processor/JournalSpanProcessor.js';
import { recoverJournals } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'error_bodies', (name) => (schema = name));

/** Above Linux's pid_max (2^22): a writer with this pid is dead (as in test/helpers/deadJournal.ts). */
const DEAD_PID = 2 ** 22 + 11;

/** The same errors for both paths: a system error's own enumerable fields, a cause, a cycle through it. */
function errors(): { body: Error; map: Record<string, unknown> } {
  const cause = new TypeError('socket hang up');
  const body = Object.assign(new Error('charge failed', { cause }), { code: 'ECONNRESET', errno: -104 });
  const looping = new RangeError('loops');
  looping.cause = looping;
  return { body, map: { step: 'charge', failure: looping } };
}

function emitErrors(logger: ReturnType<LoggerProvider['getLogger']>, span: Span): void {
  const { body, map } = errors();
  const inSpan = trace.setSpan(context.active(), span);
  logger.emit({ body: body as never, attributes: { which: 'body' }, context: inSpan });
  logger.emit({ body: map as never, attributes: { which: 'map' }, context: inSpan });
}

async function storedBodies(service: string): Promise<Record<string, any>> {
  const rows = await db.query<{ which: string; body: any }>(
    `SELECT l.attributes->>'which' AS which, l.body FROM "${schema}".logs l WHERE l.kind = 'log' AND l.service_name = $1`,
    [service],
  );
  return Object.fromEntries(rows.map((row) => [row.which, row.body]));
}

function expectErrorShape(bodies: Record<string, any>): void {
  expect(bodies.body).toMatchObject({
    name: 'Error',
    message: 'charge failed',
    code: 'ECONNRESET',
    errno: -104,
    cause: { name: 'TypeError', message: 'socket hang up' },
  });
  expect(bodies.body.stack).toMatch(/^Error: charge failed\n\s+at /);
  expect(bodies.body.cause.stack).toMatch(/^TypeError: socket hang up/);
  expect(bodies.map).toMatchObject({ step: 'charge', failure: { name: 'RangeError', message: 'loops', cause: '[Circular]' } });
}

/** The processors a service runs, exporting while it lives: the span processor, and the log record processor on it. */
function liveService(service: string) {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
  const spans = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), service), recover: false });
  const tracers = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [spans] });
  const logs = new JournalLogRecordProcessor({ spanProcessor: spans });
  const loggers = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': service }), processors: [logs] });
  return { spans, tracers, logs, loggers };
}

describe('an Error in a log record', () => {
  it('is stored with its name, message, stack, cause and own fields, live and from a dead journal alike', async () => {
    // Live: the processors a service runs, exporting while it lives.
    const live = 'errors-live';
    const { spans, tracers, loggers } = liveService(live);
    const span = tracers.getTracer('errors').startSpan('charge') as Span;
    emitErrors(loggers.getLogger('errors'), span);
    span.end();
    await spans.forceFlush();
    await loggers.shutdown();
    await tracers.shutdown();
    const liveBodies = await storedBodies(live);
    expectErrorShape(liveBodies);

    // Dead: the same records journaled by a writer that died with the span open.
    const dead = 'errors-dead';
    const journalDir = join(tempDir(), 'dead');
    const writer = new JournalWriter({
      journalDir,
      identity: { ...currentWriterIdentity(), pid: DEAD_PID, procStartTicks: '1', writerId: `w${'0'.repeat(9)}-${DEAD_PID}-1-${'cd'.repeat(8)}` },
      durability: 'process',
      maxSegmentBytes: 1024 * 1024,
      maxJournalBytes: 64 * 1024 * 1024,
      groupCommitMillis: 10,
      heartbeatIntervalMs: 1000,
      lock: false,
    });
    const deadTracers = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': dead }),
      spanProcessors: [{ onStart: (s: Span) => void writer.appendStart(s), onEnd: (s: ReadableSpan) => void writer.appendEnd(s), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const deadLoggers = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': dead }),
      processors: [{ onEmit: (record) => void writer.appendLog(record), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    emitErrors(deadLoggers.getLogger('errors'), deadTracers.getTracer('errors').startSpan('charge') as Span);
    const recoverer = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
    try {
      const report = await recoverJournals({ journalDir, exporter: recoverer, staleAfterMillis: 1 });
      expect(report).toMatchObject({ spansCrashed: 1, logRecords: 2 });
    } finally {
      await recoverer.shutdown();
    }
    const deadBodies = await storedBodies(dead);
    expectErrorShape(deadBodies);
    // Stacks differ by the line each error was made on; all else is the same.
    const withoutStacks = (value: unknown) => JSON.parse(JSON.stringify(value, (key, v) => (key === 'stack' ? undefined : v)));
    expect(withoutStacks(deadBodies)).toEqual(withoutStacks(liveBodies));
  });
});

describe('a body that throws when looked at', () => {
  // A revoked Proxy throws at any question, instanceof included; so does a Proxy whose
  // getPrototypeOf trap throws. At the top of a body that took the whole record, counted
  // nowhere (review repro D1); one level down it was already '[Unserializable]'.
  it('is stored as [Unserializable], and its record is neither lost nor dropped', async () => {
    const service = 'hostile-bodies';
    const { spans, tracers, loggers } = liveService(service);
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const trapThrows = new Proxy(
      {},
      {
        getPrototypeOf() {
          throw new Error('no prototype for you');
        },
      },
    );
    const span = tracers.getTracer('hostile').startSpan('work') as Span;
    const logger = loggers.getLogger('hostile');
    const inSpan = trace.setSpan(context.active(), span);
    logger.emit({ body: 'before', attributes: { which: 'before' }, context: inSpan });
    logger.emit({ body: revocable.proxy as never, attributes: { which: 'revoked' }, context: inSpan });
    logger.emit({ body: trapThrows as never, attributes: { which: 'trap' }, context: inSpan });
    logger.emit({ body: 'after', attributes: { which: 'after' }, context: inSpan });
    span.end();
    await spans.forceFlush();
    const stats = spans.stats();
    await loggers.shutdown();
    await tracers.shutdown();
    expect(await storedBodies(service)).toEqual({ before: 'before', revoked: '[Unserializable]', trap: '[Unserializable]', after: 'after' });
    expect(stats).toMatchObject({ logRecordsExported: 4, logRecordsDropped: 0, hotPathErrors: 0 });
  });
});

describe('a log record the processor fails on', () => {
  // Whatever still throws while a record is journaled (a hand-built record's getter, a bug of
  // ours) leaves nothing else holding it: it is counted as dropped and carried by the
  // overflow marker, not only counted as an error.
  it('is counted as dropped, and the overflow marker says so', async () => {
    const service = 'failing-record';
    const { spans, tracers, logs } = liveService(service);
    tracers.getTracer('failing').startSpan('gives the overflow marker its resource').end();
    const record = {
      get hrTime(): never {
        throw new Error('no time');
      },
      hrTimeObserved: [1_700_000_000, 0],
      attributes: {},
      body: 'lost',
      resource: resourceFromAttributes({ 'service.name': service }),
      instrumentationScope: { name: 'failing' },
    };
    expect(() => logs.onEmit(record as never)).not.toThrow();
    await spans.forceFlush();
    const stats = spans.stats();
    await tracers.shutdown();
    expect(stats).toMatchObject({ hotPathErrors: 1, logRecordsDropped: 1, logRecordsDroppedByReason: { 'error in the span processor': 1 } });
    const markers = await db.query<{ dropped: string }>(
      `SELECT attributes->>'otel_blackbox.dropped_log_records' AS dropped FROM "${schema}".spans WHERE service_name = $1 AND name = 'otel_blackbox.journal_overflow'`,
      [service],
    );
    expect(markers.map((row) => row.dropped)).toEqual(['1']);
  });
});
