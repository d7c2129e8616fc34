// Span events are stored keyed by their index in the span. At its eventCountLimit the SDK
// drops the OLDEST event, so every index moves: a 'started' row stored while the span ran
// (a log line in it, pendingSpanMillis) held other events at those indexes than the final
// span, and the ended row's events, inserted where no event was stored yet, left the
// table a mix of dropped and kept events (review repro 03). The stored events must be the
// final span's, whatever order the rows arrive in, however often they are replayed.
import { SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { JournalLogRecordProcessor } from '../../src/processor/JournalLogRecordProcessor.js';
import { JournalSpanProcessor } from '../../src/processor/JournalSpanProcessor.js';
import { ATTR_CRASH_REASON, ATTR_END_TIME_ESTIMATED, ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { exportSpans, ids, TEST_RESOURCE, withAttributes } from './spanFixtures.js';

const EVENT_LIMIT = 3;
const db = new TestDatabase();
const tempDir = useTempDirs();
let schema: string;
let exporter: PostgresSpanExporter;
useMigratedSchema(db, 'dropped_events', (name) => (schema = name));

beforeAll(() => {
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
});

afterAll(() => exporter.shutdown());

const provider = new TracerProvider({ resource: TEST_RESOURCE, spanLimits: { eventCountLimit: EVENT_LIMIT } });
const tracer = provider.getTracer('dropped-events');

/** A live span with events `e0` … `e<count-1>` added. */
function spanWithEvents(name: string, count: number): Span & ReadableSpan {
  const span = tracer.startSpan(name) as Span & ReadableSpan;
  addEvents(span, 0, count);
  return span;
}

function addEvents(span: Span, from: number, to: number): void {
  for (let i = from; i < to; i++) span.addEvent(`e${i}`);
}

/** The span as its 'started' row sees it now (its events and their count taken together). */
function startedNow(span: ReadableSpan): ReadableSpan {
  return withAttributes(
    span,
    { ...span.attributes, [ATTR_SPAN_STATE]: 'started' },
    { endTime: [0, 0], ended: false, events: [...span.events], droppedEventsCount: span.droppedEventsCount },
  );
}

function crashedFrom(span: ReadableSpan): ReadableSpan {
  return withAttributes(
    span,
    { ...span.attributes, [ATTR_SPAN_STATE]: 'crashed', [ATTR_CRASH_REASON]: 'process vanished', [ATTR_END_TIME_ESTIMATED]: true },
    { events: [], droppedEventsCount: 0, status: { code: SpanStatusCode.ERROR, message: 'process vanished' } },
  );
}

async function write(...spans: ReadableSpan[]): Promise<void> {
  expect(await exportSpans(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
}

async function storedEvents(span: ReadableSpan): Promise<string[]> {
  const { traceId, spanId } = ids(span);
  const rows = await db.query<{ event_index: number; event_name: string }>(
    `SELECT event_index, event_name FROM "${schema}".logs WHERE kind = 'event' AND trace_id = $1 AND span_id = $2 ORDER BY event_index`,
    [traceId, spanId],
  );
  // Indexes are dense from 0: a gap would be an event lost between two stored ones.
  expect(rows.map((row) => row.event_index)).toEqual(rows.map((_, i) => i));
  return rows.map((row) => row.event_name);
}

describe('span events when the SDK dropped some', () => {
  it("stores the ended span's events, not the ones a 'started' row stored before the oldest were dropped", async () => {
    const span = spanWithEvents('started-then-ended', 2);
    await write(startedNow(span));
    expect(await storedEvents(span)).toEqual(['e0', 'e1']);
    addEvents(span, 2, 5);
    span.end();
    expect(span.droppedEventsCount).toBe(2);
    await write(span);
    expect(await storedEvents(span)).toEqual(['e2', 'e3', 'e4']);
  });

  it("stores no events of a 'started' row taken after events were dropped: its indexes are not the final ones", async () => {
    const span = spanWithEvents('started-twice', 2);
    await write(startedNow(span));
    addEvents(span, 2, 4);
    await write(startedNow(span));
    expect(await storedEvents(span)).toEqual(['e0', 'e1']);
    addEvents(span, 4, 5);
    span.end();
    await write(span);
    expect(await storedEvents(span)).toEqual(['e2', 'e3', 'e4']);
  });

  it("keeps the ended span's events when a 'started' row, a replay and a crash record arrive after it", async () => {
    const span = spanWithEvents('ended-first', 2);
    const early = startedNow(span);
    addEvents(span, 2, 5);
    span.end();
    await write(span);
    await write(early);
    await write(span);
    await write(crashedFrom(span));
    expect(await storedEvents(span)).toEqual(['e2', 'e3', 'e4']);
    const [row] = await db.query(`SELECT state, dropped_events_count FROM "${schema}".spans WHERE trace_id = $1 AND span_id = $2`, [ids(span).traceId, ids(span).spanId]);
    expect(row).toEqual({ state: 'ended', dropped_events_count: 2 });
  });

  it("keeps the events of a span without dropped events as before, and a crash record keeps its 'started' row's", async () => {
    const whole = spanWithEvents('no-drop', 2);
    await write(startedNow(whole));
    addEvents(whole, 2, 3);
    whole.end();
    await write(whole);
    expect(await storedEvents(whole)).toEqual(['e0', 'e1', 'e2']);

    const crashed = spanWithEvents('crashed-later', 2);
    await write(startedNow(crashed));
    await write(crashedFrom(crashed));
    expect(await storedEvents(crashed)).toEqual(['e0', 'e1']);
    crashed.end();
  });

  it('replaces the events of several spans in one batch, next to spans that keep theirs', async () => {
    const dropped = spanWithEvents('batch-dropped', 2);
    const kept = spanWithEvents('batch-kept', 1);
    const open = spanWithEvents('batch-open', 1);
    await write(startedNow(dropped), startedNow(kept));
    addEvents(dropped, 2, 6);
    dropped.end();
    addEvents(kept, 1, 2);
    kept.end();
    await write(kept, startedNow(open), dropped, startedNow(dropped));
    expect(await storedEvents(dropped)).toEqual(['e3', 'e4', 'e5']);
    expect(await storedEvents(kept)).toEqual(['e0', 'e1']);
    expect(await storedEvents(open)).toEqual(['e0']);
    open.end();
  });

  it('gives the same events when replays of the same ended spans run concurrently (no deadlock, no mix)', async () => {
    // One trace, so the batches also meet on its traces row.
    const root = spanWithEvents('concurrent-root', 1);
    const spans = Array.from({ length: 20 }, (_, i) => {
      const span = tracer.startSpan(`concurrent-${i}`, {}, trace.setSpan(context.active(), root)) as Span & ReadableSpan;
      addEvents(span, 0, 2);
      return span;
    });
    await write(...spans.map(startedNow));
    for (const span of spans) {
      addEvents(span, 2, 5);
      span.end();
    }
    root.end();
    const reversed = [...spans].reverse();
    const results = await Promise.all([spans, reversed, spans, reversed, spans].map((batch) => exportSpans(exporter, batch)));
    expect(results.map((result) => result.code)).toEqual(results.map(() => ExportResultCode.SUCCESS));
    for (const span of spans) expect(await storedEvents(span)).toEqual(['e2', 'e3', 'e4']);
  });

  it('stores the final events through the processor when a log line gave the span a started row (review repro 03)', async () => {
    const journalExporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
    const spans = new JournalSpanProcessor({ exporter: journalExporter, journalDir: join(tempDir(), 'journal'), recover: false });
    const journaled = new TracerProvider({ resource: TEST_RESOURCE, spanProcessors: [spans], spanLimits: { eventCountLimit: EVENT_LIMIT } });
    const loggers = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: spans })] });
    try {
      const span = journaled.getTracer('journaled').startSpan('job') as Span & ReadableSpan;
      addEvents(span, 0, 2);
      loggers.getLogger('journaled').emit({ body: 'progress', context: trace.setSpan(context.active(), span) });
      await spans.forceFlush();
      expect(await storedEvents(span)).toEqual(['e0', 'e1']);
      addEvents(span, 2, 5);
      span.end();
      await spans.forceFlush();
      expect(await storedEvents(span)).toEqual(['e2', 'e3', 'e4']);
    } finally {
      await loggers.shutdown();
      await journaled.shutdown();
    }
  });
});
