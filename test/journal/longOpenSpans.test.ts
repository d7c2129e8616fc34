// Spans open a second or more are held weakly (LongOpenSpans.ts): one the application drops
// without ending it can be collected, and the writer hands its START over for a crash
// record. These run the real writer on real files, with the real collector (gc exposed at
// run time), for both write paths.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Resource } from '@opentelemetry/resources';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import type { JournalWriterOptions } from '../../src/journal/JournalWriter.js';
import { COLLECTED_SPANS_REPORTED_PER_TURN, LongOpenSpans, OPEN_SPANS_WEAKENED_PER_TURN } from '../../src/journal/LongOpenSpans.js';
import { OpenSpanTable } from '../../src/journal/OpenSpanTable.js';
import { StartText, startRecordJson } from '../../src/journal/spanRecordJson.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { segmentFileName } from '../../src/journal/journalPaths.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import type { SpanEndRecord, SpanStartRecord } from '../../src/journal/recordTypes.js';
import { spanKey } from '../../src/journal/spanRecords.js';
import { DROPPED_WITHOUT_END, droppedSpanRecord } from '../../src/recovery/crashRecords.js';
import { readJournalFacts } from '../../src/recovery/readWriterJournal.js';
import { ATTR_CRASH_REASON, ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { journalWriterIn } from '../helpers/testJournalWriter.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const tempDir = useTempDirs();
const resource = resourceFromAttributes({ 'service.name': 'long-open' });
const tracer = new TracerProvider({ resource }).getTracer('long-open-test');

interface Abandoned {
  start: SpanStartRecord;
  resource: Resource;
}

function writerIn(dir: string, abandoned: Abandoned[], overrides: Partial<JournalWriterOptions> = {}): JournalWriter {
  return journalWriterIn(dir, { onAbandoned: (start, resource) => abandoned.push({ start, resource }), ...overrides });
}

/** Starts `count` spans the test keeps no reference to: the journal's are the only ones. Returns their span ids. */
function startDropped(writer: JournalWriter, count: number, name = 'dropped'): string[] {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan(name, { attributes: { i } }) as unknown as ReadableSpan;
    writer.appendStart(span);
    ids.push(span.spanContext().spanId);
  }
  return ids;
}

/** Collects until `done` or the tries run out; finalization callbacks run in tasks of their own. */
async function collectUntil(done: () => boolean, tries = 300): Promise<void> {
  for (let i = 0; i < tries && !done(); i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Real ended spans, as traffic that fills segments. */
function endedSpans(count: number): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const traffic = provider.getTracer('traffic');
  for (let i = 0; i < count; i++) traffic.startSpan(`traffic-${i}`, { attributes: { pad: 'x'.repeat(300) } }).end();
  return exporter.getFinishedSpans();
}

function recordsOf(writer: JournalWriter): { type: number; payload: unknown }[] {
  return segmentNames(writer.writerDir)
    .sort()
    .flatMap((name) => readSegment(readFileSync(join(writer.writerDir, name))).records);
}

describe.each(JOURNAL_IO_PATHS)('spans open a while, writing with %s', (io) => {
  useJournalIo(io);

  test('held weakly after two looks; dropped and collected, their STARTs are handed over, and their crash records end them', async () => {
    const abandoned: Abandoned[] = [];
    const writer = writerIn(tempDir(), abandoned);
    const kept = tracer.startSpan('kept') as unknown as ReadableSpan;
    writer.appendStart(kept);
    const dropped = startDropped(writer, 50);
    writer.maintain();
    // One look: seen, still held. A collection reports nothing.
    await collectUntil(() => false, 10);
    expect(abandoned).toEqual([]);
    writer.maintain();
    await collectUntil(() => abandoned.length === 50);
    expect(abandoned.map(({ start }) => start.s).sort()).toEqual([...dropped].sort());
    expect(abandoned[0]!.start).toMatchObject({ n: 'dropped', t: expect.any(String) });
    expect(abandoned[0]!.resource).toBe(resource);
    expect(writer.openSpanCount).toBe(51);

    for (const { start, resource } of abandoned) expect(writer.appendEnd(droppedSpanRecord(start, resource, writer.writerId, Date.now()))).toBe('written');
    expect(writer.openSpanCount).toBe(1);
    const ends = recordsOf(writer).filter((record) => record.type === RecordType.SpanEnd).map((record) => record.payload as SpanEndRecord);
    expect(ends).toHaveLength(50);
    expect(ends[0]!.a).toMatchObject({ [ATTR_SPAN_STATE]: 'crashed', [ATTR_CRASH_REASON]: DROPPED_WITHOUT_END, i: expect.any(Number) });
    writer.close({ removeIfDone: false });
    (kept as unknown as Span).end();
  });

  test('a span held weakly that ends is an ordinary END, with what it holds by then; its collection reports nothing', async () => {
    const abandoned: Abandoned[] = [];
    const writer = writerIn(tempDir(), abandoned);
    let span: Span | undefined = tracer.startSpan('long job', { attributes: { 'job.id': 7 } }) as Span;
    writer.appendStart(span as unknown as ReadableSpan);
    writer.maintain();
    writer.maintain();
    span.setAttribute('job.step', 'done');
    span.updateName('long job, renamed');
    span.end();
    expect(writer.appendEnd(span as unknown as ReadableSpan)).toBe('written');
    span = undefined;
    await collectUntil(() => false, 10);
    expect(abandoned).toEqual([]);
    expect(writer.openSpanCount).toBe(0);
    const [end] = recordsOf(writer).filter((record) => record.type === RecordType.SpanEnd).map((record) => record.payload as SpanEndRecord);
    expect(end).toMatchObject({ n: 'long job, renamed', a: { 'job.id': 7, 'job.step': 'done' } });
    writer.close({ removeIfDone: false });
  });

  test('collected spans whose finalization has not run yet are found at shutdown, reported a bounded number per turn, and once', async () => {
    const abandoned: Abandoned[] = [];
    const writer = writerIn(tempDir(), abandoned);
    const count = COLLECTED_SPANS_REPORTED_PER_TURN * 3 + 10;
    startDropped(writer, count);
    writer.maintain();
    writer.maintain();
    // A task later: a WeakRef keeps its span alive until the task that made it is done.
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
    // Synchronously after the collection: its finalization callbacks wait for tasks of their own.
    const reported = writer.reportCollectedSpans();
    expect(abandoned).toHaveLength(COLLECTED_SPANS_REPORTED_PER_TURN);
    await reported;
    expect(abandoned).toHaveLength(count);
    await collectUntil(() => false, 10);
    expect(abandoned).toHaveLength(count);
    writer.close({ removeIfDone: false });
  });

  test('once the writer is closed, broken or not, a collection reports nothing', async () => {
    for (const breakFirst of [false, true]) {
      const abandoned: Abandoned[] = [];
      const writer = writerIn(tempDir(), abandoned);
      startDropped(writer, 20);
      writer.maintain();
      writer.maintain();
      if (breakFirst) {
        // A file where the writer's directory was: broken, and the repair cannot make it again.
        rmSync(writer.writerDir, { recursive: true, force: true });
        writeFileSync(writer.writerDir, 'not a directory');
        expect(writer.maintain()).toBe(false);
        expect(writer.broken).toBe(true);
      }
      writer.close({ removeIfDone: false });
      await collectUntil(() => abandoned.length > 0, 20);
      expect(abandoned).toEqual([]);
    }
  });

  test("a collected span's START is carried forward from its kept text, and a recovery finds it open", async () => {
    const abandoned: Abandoned[] = [];
    const writer = writerIn(tempDir(), abandoned, { maxSegmentBytes: 4096 });
    const [dropped] = startDropped(writer, 1);
    writer.maintain();
    writer.maintain();
    // Collected and reported; its crash record not written (the caller could not yet).
    await collectUntil(() => abandoned.length === 1);
    expect(abandoned).toHaveLength(1);
    for (const span of endedSpans(60)) {
      writer.appendStart(span);
      writer.appendEnd(span);
    }
    const live = writer.currentSegment;
    expect(live).toBeGreaterThan(3);
    writer.deleteSegmentsBefore(live);
    // Unlinked on the thread pool.
    await expect.poll(() => segmentNames(writer.writerDir).includes(segmentFileName(1))).toBe(false);
    writer.close({ removeIfDone: false });
    const facts = await readJournalFacts(writer.writerDir);
    expect([...facts.openStarts.keys()]).toEqual([spanKey(abandoned[0]!.start.t, dropped!)]);
    // Its START was carried out of segment 1, which is gone.
    expect(facts.segments).not.toContain(1);
  });
});

test('a look makes a bounded number weakly held, and says when some are left for the next turn', () => {
  const table = new OpenSpanTable<StartText>();
  const spans = Array.from({ length: OPEN_SPANS_WEAKENED_PER_TURN + 10 }, (_, i) => tracer.startSpan(`open-${i}`) as unknown as ReadableSpan);
  for (const span of spans) table.set(span.spanContext().traceId, span.spanContext().spanId, new StartText(span), 1);
  const longOpen = new LongOpenSpans(() => {});
  const weakly = () => [...table.values()].filter((start) => start.heldWeakly).length;
  const startJson = (start: StartText) => startRecordJson(start.span!, 1);
  // The first look only sees them.
  expect(longOpen.look(table, startJson, true)).toBe(false);
  expect(weakly()).toBe(0);
  expect(longOpen.look(table, startJson, true)).toBe(true);
  expect(weakly()).toBe(OPEN_SPANS_WEAKENED_PER_TURN);
  expect(longOpen.look(table, startJson, false)).toBe(false);
  expect(weakly()).toBe(spans.length);
  // Kept: the START as written, for a carry or a crash record.
  const first = [...table.values()][0]!;
  expect(JSON.parse(first.startJson!)).toMatchObject({ n: 'open-0', s: spans[0]!.spanContext().spanId });
  expect(first.span).toBe(spans[0]);
  for (const span of spans) (span as unknown as Span).end();
});
