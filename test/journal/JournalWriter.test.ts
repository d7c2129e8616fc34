import * as nodeFs from 'node:fs';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TracerProvider as BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { SYNC_BACKLOG_MILLIS } from '../../src/journal/GroupCommit.js';
import { JournalWriter, OPEN_SPANS_CARRIED_PER_TURN } from '../../src/journal/JournalWriter.js';
import type { JournalWriterOptions } from '../../src/journal/JournalWriter.js';
import type { SegmentFileSystem } from '../../src/journal/segmentFile/SegmentFile.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { readJournalFacts } from '../../src/recovery/readWriterJournal.js';
import { segmentFileName } from '../../src/journal/journalPaths.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import type { SpanEndRecord, SpanStartRecord } from '../../src/journal/recordTypes.js';
import { spanKey } from '../../src/journal/spanRecords.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { FaultyFileSystem } from '../helpers/faultyFileSystem.js';
import type { Fault } from '../helpers/faultyFileSystem.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { descriptorsUnder, segmentNames } from '../helpers/journalFiles.js';
import { journalWriterIn } from '../helpers/testJournalWriter.js';

const tempDir = useTempDirs();

/** Real spans from a real tracer; `open` ones are started and not ended. */
function makeSpans(count: number): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('writer-test');
  for (let i = 0; i < count; i++) tracer.startSpan(`span-${i}`, { attributes: { i, pad: 'x'.repeat(200) } }).end();
  return exporter.getFinishedSpans();
}

const writerIn = journalWriterIn;

/** Segment files still on disk numbered below `segment`. */
function filesBefore(writer: JournalWriter, segment: number): string[] {
  return segmentNames(writer.writerDir).filter((name) => name < segmentFileName(segment));
}

/** Each span started and ended, one after the other: traffic. */
function startAndEnd(writer: JournalWriter, spans: readonly ReadableSpan[]): void {
  for (const span of spans) {
    writer.appendStart(span);
    writer.appendEnd(span);
  }
}

/** The first of `count` spans is left open, the rest start and end after it: several segments' worth. */
function oneLeftOpenAmong(writer: JournalWriter, count: number): ReadableSpan {
  const [longRunning, ...others] = makeSpans(count);
  writer.appendStart(longRunning);
  startAndEnd(writer, others);
  return longRunning;
}

/** The records in the files on disk; a file unlinked (on the thread pool) while they are read counts as gone. */
function recordsOf(writer: JournalWriter): { type: number; payload: unknown }[] {
  return segmentNames(writer.writerDir)
    .sort()
    .flatMap((name) => {
      try {
        return readSegment(readFileSync(join(writer.writerDir, name))).records;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    });
}

/** What recovery would read of this journal now; a segment unlinked (on the thread pool) while it reads means: read again. */
async function factsOf(writerDir: string): ReturnType<typeof readJournalFacts> {
  for (;;) {
    try {
      return await readJournalFacts(writerDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

describe.each(JOURNAL_IO_PATHS)('JournalWriter writing with %s', (io) => {
  useJournalIo(io);

  test('writes through the path asked for, and says which', () => {
    const writer = writerIn(tempDir());
    expect(writer.writePath).toBe(expectedJournalIo(io));
    writer.close({ removeIfDone: false });
  });

  test('a record larger than a segment gets a segment of its own size; every record reads back', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    const tracer = provider.getTracer('writer-test');
    for (let i = 0; i < 20; i++) tracer.startSpan(`span-${i}`, { attributes: { pad: 'y'.repeat(i % 5 === 0 ? 100_000 : 300) } }).end();
    for (const span of exporter.getFinishedSpans()) {
      expect(writer.appendStart(span)).toBe('written');
      expect(writer.appendEnd(span)).toBe('written');
    }
    const records = recordsOf(writer);
    expect(records.filter((r) => r.type === RecordType.SpanEnd)).toHaveLength(20);
    writer.close({ removeIfDone: false });
    // Closed segments end up holding their records and nothing else (cut once unmapped,
    // which waits for page population still running on the thread pool).
    const segments = () => segmentNames(writer.writerDir).map((name) => readSegment(readFileSync(join(writer.writerDir, name))));
    await expect.poll(() => segments().map((contents) => Number(contents.zeroTail) + contents.damaged.length)).toEqual(segments().map(() => 0));
  });

  test('creates the directories 0700 and segments 0600', () => {
    const writer = writerIn(tempDir());
    const segment = join(writer.writerDir, segmentNames(writer.writerDir)[0]);
    expect(statSync(join(writer.writerDir, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(writer.writerDir).mode & 0o777).toBe(0o700);
    expect(statSync(segment).mode & 0o777).toBe(0o600);
    writer.close({ removeIfDone: false });
  });

  test('a segment starts with a header that names its writer', () => {
    const writer = writerIn(tempDir());
    const [header] = recordsOf(writer);
    expect(header.type).toBe(RecordType.SegmentHeader);
    expect(header.payload).toMatchObject({ pid: process.pid, segment: 1, writerId: writer.writerDir.split('/').pop() });
    writer.close({ removeIfDone: false });
  });

  test('rotation carries still-open spans forward, so committed segments can be deleted', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const longRunning = oneLeftOpenAmong(writer, 60);
    const live = writer.currentSegment;
    expect(live).toBeGreaterThan(3);
    writer.deleteSegmentsBefore(live);
    // The live segment, and the next if the START carried into it filled it; the others
    // are being deleted, and count as on disk until they are gone.
    expect(writer.segmentsOnDisk - writer.segmentsBeingDeleted).toBe(writer.currentSegment - live + 1);
    await expect.poll(() => writer.segmentsOnDisk).toBe(writer.currentSegment - live + 1);
    // Unlinked on the thread pool; a spare made ahead of the next rotation holds no records.
    const withRecords = () => segmentNames(writer.writerDir).filter((name) => readSegment(readFileSync(join(writer.writerDir, name))).records.length > 0);
    await expect.poll(withRecords).toHaveLength(writer.currentSegment - live + 1);
    const records = recordsOf(writer);
    const ids = (type: RecordType): string[] =>
      records.filter((r) => r.type === type).map((r) => (r.payload as SpanStartRecord).s);
    const ended = new Set(ids(RecordType.SpanEnd));
    const openInLastSegment = ids(RecordType.SpanStart).filter((id) => !ended.has(id));
    expect(openInLastSegment).toEqual([longRunning.spanContext().spanId]);
    writer.close({ removeIfDone: false });
  });

  test('many open spans carried forward do not make every later write rotate again', () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 8192 });
    const spans = makeSpans(300);
    // 200 open spans: their STARTs alone are several times the segment size.
    for (const span of spans.slice(0, 200)) writer.appendStart(span);
    const afterOpening = writer.currentSegment;
    startAndEnd(writer, spans.slice(200));
    // 100 spans of ~1 KiB start+end is ~12 segments' worth of new records, not one per record.
    expect(writer.currentSegment - afterOpening).toBeLessThan(20);
    const starts = new Set(recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s));
    for (const span of spans.slice(0, 200)) expect(starts.has(span.spanContext().spanId)).toBe(true);
    writer.close({ removeIfDone: false });
  });

  test('at maxJournalBytes new spans are refused, while spans already started can still end', () => {
    const writer = writerIn(tempDir(), { maxJournalBytes: 4000 });
    const spans = makeSpans(40);
    const started = spans.filter((span) => writer.appendStart(span) === 'written');
    expect(started.length).toBeGreaterThan(0);
    expect(started.length).toBeLessThan(40);
    for (const span of started) expect(writer.appendEnd(span)).toBe('written');
    const notStarted = spans.find((span) => !started.includes(span))!;
    expect(writer.appendEnd(notStarted)).toBe('full');
    writer.close({ removeIfDone: false });
  });

  test('a START and an END each reach the file before the call returns', () => {
    const writer = writerIn(tempDir());
    const [span] = makeSpans(1);
    const onDisk = (type: RecordType): number =>
      segmentNames(writer.writerDir)
        .flatMap((name) => readSegment(readFileSync(join(writer.writerDir, name))).records)
        .filter((r) => r.type === type).length;
    writer.appendStart(span);
    expect(onDisk(RecordType.SpanStart)).toBe(1);
    writer.appendEnd(span);
    expect(onDisk(RecordType.SpanEnd)).toBe(1);
    writer.close({ removeIfDone: false });
  });

  test('an END that cannot be written is reported broken, and its span stays open until the caller says its copy was exported', () => {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs });
    const [span] = makeSpans(1);
    writer.appendStart(span);
    fs.fault = 'enospc';
    expect(writer.appendEnd(span)).toBe('broken');
    expect(writer.openSpanCount).toBe(1);
    expect(writer.endsWritten).toBe(0);
    writer.endedElsewhere(makeSpans(1)[0]!); // another span: nothing changes
    expect(writer.openSpanCount).toBe(1);
    writer.endedElsewhere(span!);
    expect(writer.openSpanCount).toBe(0);
    writer.close({ removeIfDone: false });
  });

  test('a START that fills its segment is carried forward before that segment is deleted', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    // Records of varied sizes, so that some START is the one that crosses the limit.
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('writer-test');
    for (let i = 0; i < 100; i++) tracer.startSpan(`span-${i}`, { attributes: { pad: 'x'.repeat((i * 37) % 300) } }).end();
    // Each span ends right after its start, but the one whose START is the record that fills
    // its segment: that span is open at the rotation the START itself causes.
    let crossing: ReadableSpan | undefined;
    for (const span of exporter.getFinishedSpans()) {
      const before = writer.currentSegment;
      expect(writer.appendStart(span)).toBe('written');
      if (writer.currentSegment !== before) {
        crossing = span;
        break;
      }
      writer.appendEnd(span);
    }
    expect(crossing).toBeDefined();
    writer.deleteSegmentsBefore(writer.currentSegment);
    await expect.poll(() => filesBefore(writer, writer.currentSegment)).toEqual([]);
    const carried = recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s);
    expect(carried).toEqual([crossing!.spanContext().spanId]);
    writer.close({ removeIfDone: false });
  });

  test('a START too large for the room left in its segment, left open, is still in the journal after every commit', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('writer-test');
    const large = tracer.startSpan('large', { attributes: { pad: 'x'.repeat(300_000) } }) as unknown as ReadableSpan;
    const small = makeSpans(40);
    startAndEnd(writer, small.slice(0, 5));
    expect(writer.appendStart(large)).toBe('written');
    startAndEnd(writer, small.slice(5));
    for (let i = 0; i < 3; i++) {
      writer.deleteSegmentsBefore(writer.currentSegment);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const starts = recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s);
    expect(starts).toContain(large.spanContext().spanId);
    writer.close({ removeIfDone: false });
  });

  test('spans that share an id (an id generator that repeats itself) leave no segment kept once they end', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const exporter = new InMemorySpanExporter();
    let next = 0;
    const idGenerator = { generateTraceId: () => (next++).toString(16).padStart(32, '0'), generateSpanId: () => 'aaaaaaaaaaaaaaaa' };
    const tracer = new BasicTracerProvider({ idGenerator, spanProcessors: [new SimpleSpanProcessor({ exporter })] }).getTracer('writer-test');
    for (let i = 0; i < 3; i++) tracer.startSpan(`twin-${i}`, { attributes: { pad: 'x'.repeat(200) } }).end();
    const twins = exporter.getFinishedSpans();
    for (const span of twins) writer.appendStart(span);
    startAndEnd(writer, makeSpans(60));
    for (const span of twins) writer.appendEnd(span);
    writer.deleteSegmentsBefore(writer.currentSegment);
    await expect.poll(() => filesBefore(writer, writer.currentSegment)).toEqual([]);
    writer.close({ removeIfDone: false });
  });

  test('a rotation writes no open span again: while its segment stays, a START is in the journal once', () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const spans = makeSpans(150);
    const open = spans.slice(0, 50);
    for (const span of open) writer.appendStart(span);
    startAndEnd(writer, spans.slice(50));
    expect(writer.currentSegment).toBeGreaterThan(5);
    const starts = recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s);
    expect(starts).toHaveLength(spans.length);
    expect(new Set(starts).size).toBe(spans.length);
    writer.close({ removeIfDone: false });
  });

  test('a committed segment is deleted once the spans still open in it are carried forward, a bounded number per turn', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 64 * 1024 });
    const openCount = OPEN_SPANS_CARRIED_PER_TURN * 2 + 100;
    const spans = makeSpans(openCount * 4);
    // One span left open for three that end: each segment is mostly records already committed.
    const open: ReadableSpan[] = [];
    spans.forEach((span, i) => {
      writer.appendStart(span);
      if (i % 4 === 0) open.push(span);
      else writer.appendEnd(span);
    });
    const live = writer.currentSegment;
    expect(live).toBeGreaterThan(3);
    const openIds = new Set(open.map((span) => span.spanContext().spanId));
    const carriedCopies = () =>
      segmentNames(writer.writerDir)
        .filter((name) => name >= segmentFileName(live))
        .flatMap((name) => readSegment(readFileSync(join(writer.writerDir, name))).records)
        .filter((r) => r.type === RecordType.SpanStart && openIds.has((r.payload as SpanStartRecord).s)).length;
    const segments = writer.segmentsOnDisk;
    const inLiveAlready = carriedCopies();
    writer.deleteSegmentsBefore(live);
    // One turn carries a bounded number, oldest first (the application's event loop runs
    // between turns), and deletes the segments it emptied of open spans...
    expect(carriedCopies() - inLiveAlready).toBe(OPEN_SPANS_CARRIED_PER_TURN);
    expect(writer.segmentsOnDisk - writer.segmentsBeingDeleted).toBeLessThan(segments);
    expect(writer.segmentsOnDisk - writer.segmentsBeingDeleted).toBeGreaterThan(writer.currentSegment - live + 1);
    // ...and the rest follow; only then are the segments they were in deleted.
    await expect.poll(() => filesBefore(writer, live)).toEqual([]);
    expect(carriedCopies()).toBe(open.length);
    const starts = new Set(recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s));
    for (const id of openIds) expect(starts.has(id)).toBe(true);
    writer.close({ removeIfDone: false });
  });

  test('spans left open (a leak) are not written again at every commit: a segment that is mostly their STARTs stays until they end', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 8192 });
    const spans = makeSpans(1200);
    const leaked = spans.slice(0, 200);
    for (const span of leaked) writer.appendStart(span);
    const leakedBytes = writer.bytesWritten;
    // Traffic goes on and every batch commits, 50 times over.
    for (let round = 0; round < 50; round++) {
      startAndEnd(writer, spans.slice(200 + round * 20, 220 + round * 20));
      writer.deleteSegmentsBefore(writer.currentSegment);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(writer.currentSegment).toBeGreaterThan(20);
    // Their STARTs were written once, never carried (their segments are nothing but them):
    // the journal wrote the leak's bytes once, not once per commit.
    // (Carried at every commit, they would add 200 STARTs x 50 commits: ~10 STARTs per span of traffic.)
    const bytesPerSpanOfTraffic = (writer.bytesWritten - leakedBytes) / 1000;
    const startBytes = leakedBytes / leaked.length;
    expect(bytesPerSpanOfTraffic).toBeLessThan(startBytes * 3 + 200);
    // Once they end, the next commit lets their segments go.
    for (const span of leaked) writer.appendEnd(span);
    writer.deleteSegmentsBefore(writer.currentSegment);
    await expect.poll(() => filesBefore(writer, writer.currentSegment)).toEqual([]);
    writer.close({ removeIfDone: false });
  });

  test.each(['process', 'host'] as const)('%s: a span that started in a segment kept for leaked spans and ended in one deleted since is not taken for open by recovery; the later segments still go', async (durability) => {
    // Before: the segment of leaked STARTs stayed, the later one with the span's END went,
    // and a crash then gave a span that had ended, and was committed, a crash record.
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096, durability });
    const spans = makeSpans(400);
    const leaked = spans.slice(0, 8);
    for (const span of leaked) writer.appendStart(span);
    const endedLater = spans.slice(8, 10);
    for (const span of endedLater) writer.appendStart(span);
    expect(writer.currentSegment).toBe(1);
    let next = 10;
    const traffic = (count: number) => {
      startAndEnd(writer, spans.slice(next, next + count));
      next += count;
    };
    traffic(4);
    expect(writer.currentSegment).toBeGreaterThan(1);
    writer.appendEnd(endedLater[0]!);
    traffic(20);
    writer.appendEnd(endedLater[1]!);
    // Commits and deletions, round after round: the record that says they ended must
    // outlive the segments it was written in.
    for (let round = 0; round < 15; round++) {
      traffic(20);
      writer.appendCommit(writer.position());
      writer.deleteSegmentsBefore(writer.currentSegment);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const facts = await factsOf(writer.writerDir);
      const open = [...facts.openStarts.keys()];
      expect(open).toHaveLength(leaked.length);
      for (const span of endedLater) expect(open.some((key) => key.includes(span.spanContext().spanId))).toBe(false);
    }
    // Bounded: the kept segment, and what the last commit did not cover.
    expect(writer.currentSegment).toBeGreaterThan(20);
    await expect.poll(() => segmentNames(writer.writerDir).length).toBeLessThanOrEqual(3);
    expect(segmentNames(writer.writerDir)).toContain(segmentFileName(1));
    writer.close({ removeIfDone: false });
  });

  test.each(['process', 'host'] as const)('%s: a repair that deletes the live segment at once first writes down the spans of a kept segment whose ENDs it holds', async (durability) => {
    // Before: the repair unlinked the live segment (everything committed, no open START in
    // it) while the segment kept for leaked STARTs stayed: a crash then gave the span that
    // started there and ended in the live segment a crash record.
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs, maxSegmentBytes: 4096, durability, groupCommitMillis: 1000 });
    const spans = makeSpans(400);
    const leaked = spans.slice(0, 8);
    for (const span of leaked) writer.appendStart(span);
    const straddler = spans[8]!;
    writer.appendStart(straddler);
    let next = 9;
    startAndEnd(writer, spans.slice(next, next + 20));
    next += 20;
    // On to a fresh segment, so that the END below lands in the live one and no rotation
    // follows it, whatever the records' sizes (those of the 3.x SDK's spans and resource
    // left the END at a segment's end, closed by the rotation after it).
    const filling = writer.currentSegment;
    while (writer.currentSegment === filling) startAndEnd(writer, [spans[next++]!]);
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(writer.currentSegment);
    await expect.poll(() => segmentNames(writer.writerDir).length, { timeout: 5000 }).toBe(2);
    writer.appendEnd(straddler);
    const endedIn = writer.currentSegment;
    expect(endedIn).toBe(filling + 1);
    writer.appendCommit(writer.position());
    fs.fault = 'enospc';
    expect(writer.appendStart(spans[next]!)).toBe('broken');
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    expect(segmentNames(writer.writerDir)).not.toContain(segmentFileName(endedIn));
    // What a SIGKILL now would leave: every write above is in the files.
    const open = [...(await factsOf(writer.writerDir)).openStarts.keys()];
    expect(open.some((key) => key.includes(straddler.spanContext().spanId))).toBe(false);
    expect(open.filter((key) => leaked.some((span) => key.includes(span.spanContext().spanId)))).toHaveLength(leaked.length);
    writer.close({ removeIfDone: false });
  });

  test.each(['process', 'host'] as const)('%s: spans of kept segments that go on ending neither stop deletions nor get written again at every commit', async (durability) => {
    // Before: each span that ended rewrote every kept segment's whole list into the live
    // segment, which went at the next commit and was written again; under 'host' each
    // rewrite waited for a sync that the next end made stale, and no segment was deleted.
    const writer = writerIn(tempDir(), { maxSegmentBytes: 8192, durability, groupCommitMillis: 5 });
    const spans = makeSpans(2600);
    // Segments that are mostly leaked STARTs, each with jobs that end later, one per tick.
    const jobs: ReadableSpan[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      for (const span of spans.slice(next, next + 30)) writer.appendStart(span);
      const job = spans[next + 30]!;
      writer.appendStart(job);
      jobs.push(job);
      next += 31;
    }
    const leakedIn = writer.currentSegment;
    for (let tick = 0; tick < 100; tick++) {
      startAndEnd(writer, spans.slice(next, next + 10));
      next += 10;
      if (tick % 5 === 0) writer.appendEnd(jobs[tick / 5]!);
      writer.appendCommit(writer.position());
      writer.deleteSegmentsBefore(writer.currentSegment);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // The kept segments (those of leaked STARTs, and the live one): the others went, under 'host' too.
    expect(writer.currentSegment).toBeGreaterThan(leakedIn + 20);
    await expect.poll(() => segmentNames(writer.writerDir).length, { timeout: 5000 }).toBeLessThanOrEqual(leakedIn + 1);
    // Each job that ended is written down once, in its segment's side file: none in segments.
    expect(recordsOf(writer).filter((record) => record.type === RecordType.SpansSettled)).toEqual([]);
    const sideFiles = readdirSync(writer.writerDir).filter((name) => name.endsWith('.settled'));
    const sideBytes = sideFiles.reduce((sum, name) => sum + statSync(join(writer.writerDir, name)).size, 0);
    expect(sideFiles.length).toBeGreaterThan(0);
    expect(sideBytes).toBeLessThan(jobs.length * 200);
    const facts = await factsOf(writer.writerDir);
    expect(facts.openStarts.size).toBe(20 * 30);
    writer.close({ removeIfDone: false });
  });

  test('a segment carried forward in part keeps being carried, though the average START grew meanwhile: no stale copies stay behind for recovery to take for open', async () => {
    // Before: 1,000 of its 3,000 open STARTs carried, then larger spans raised the average
    // START and the segment was kept: the carried spans ended (noted for the segment they
    // were carried into), and recovery read their stale copies as open.
    const writer = writerIn(tempDir(), { maxSegmentBytes: 2 * 1024 * 1024, firstSegmentBytes: 2 * 1024 * 1024 });
    const tracer = new BasicTracerProvider().getTracer('carry-test');
    const startOnly = (count: number, pad: number) => Array.from({ length: count }, (_, i) => tracer.startSpan(`s${i}`, { attributes: { pad: 'x'.repeat(pad) } }) as unknown as ReadableSpan);
    const ended = (span: ReadableSpan) => {
      (span as unknown as { end(): void }).end();
      return span;
    };
    const open = startOnly(3000, 50);
    for (const span of open) writer.appendStart(span);
    while (writer.currentSegment === 1) {
      const [span] = startOnly(1, 50);
      writer.appendStart(span!);
      writer.appendEnd(ended(span!));
    }
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(writer.currentSegment);
    const carried = open.slice(0, OPEN_SPANS_CARRIED_PER_TURN);
    // Before the next turn: larger spans, and the carried ones end.
    for (const span of startOnly(100, 20_000)) {
      writer.appendStart(span);
      writer.appendEnd(ended(span));
    }
    for (const span of carried) writer.appendEnd(ended(span));
    const segment = writer.currentSegment;
    while (writer.currentSegment === segment) {
      const [span] = startOnly(1, 20_000);
      writer.appendStart(span!);
      writer.appendEnd(ended(span!));
    }
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(writer.currentSegment);
    const carriedIds = new Set(carried.map((span) => span.spanContext().spanId));
    const takenForOpen = async () => [...(await factsOf(writer.writerDir)).openStarts.keys()].filter((key) => carriedIds.has(key.slice(-16)));
    // The process dies before the next turn carries more: the segments holding the carried
    // spans' copies and ENDs must not have gone while segment 1 holds stale copies of them.
    clearTimeout((writer as unknown as { releaseTimer: NodeJS.Timeout }).releaseTimer);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await takenForOpen()).toEqual([]);
    // Carried on, every copy ends up in the live segment, and segment 1 goes.
    writer.deleteSegmentsBefore(writer.currentSegment + 1);
    await expect.poll(() => segmentNames(writer.writerDir)).not.toContain(segmentFileName(1));
    expect(await takenForOpen()).toEqual([]);
    expect((await factsOf(writer.writerDir)).openStarts.size).toBe(open.length - carried.length);
    writer.close({ removeIfDone: false });
  });

  test('a side file that cannot be written keeps every segment of that release: none of their STARTs loses its END', async () => {
    // Before: only the segments holding ENDs the side file was to list stayed; a later one
    // holding the END of a span that started in one of those went.
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const spans = makeSpans(400);
    for (const span of spans.slice(0, 8)) writer.appendStart(span);
    const x = spans[8]!;
    writer.appendStart(x);
    let next = 9;
    const traffic = () => {
      const span = spans[next++]!;
      writer.appendStart(span);
      writer.appendEnd(span);
    };
    while (writer.currentSegment === 1) traffic();
    const k = writer.currentSegment;
    writer.appendEnd(x);
    const y = spans[next++]!;
    writer.appendStart(y);
    while (writer.currentSegment === k) traffic();
    writer.appendEnd(y);
    const b = writer.currentSegment;
    while (writer.currentSegment === b) traffic();
    writer.appendCommit(writer.position());
    // Segment 1's side file cannot be made: a directory holds its name.
    nodeFs.mkdirSync(join(writer.writerDir, '00000001.settled'));
    writer.deleteSegmentsBefore(writer.currentSegment);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(writer.broken).toBe(true);
    expect(segmentNames(writer.writerDir)).toEqual(expect.arrayContaining([segmentFileName(k), segmentFileName(b)]));
    nodeFs.rmdirSync(join(writer.writerDir, '00000001.settled'));
    const open = [...(await factsOf(writer.writerDir)).openStarts.keys()];
    for (const span of [x, y]) expect(open.some((key) => key.includes(span.spanContext().spanId))).toBe(false);
    writer.close({ removeIfDone: false });
  });

  test('closing while deletions are queued: the counts stay true', async () => {
    // Before: close() emptied the accounting, then the queued deletions' callbacks
    // subtracted again (segments on disk went to -40, bytes negative).
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    startAndEnd(writer, makeSpans(300));
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(writer.currentSegment);
    writer.close({ removeIfDone: true });
    expect(writer.segmentsOnDisk).toBe(0);
    expect(writer.bytesOnDisk).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(writer.segmentsOnDisk).toBe(0);
    expect(writer.bytesOnDisk).toBe(0);
  });

  test('committed segments are deleted oldest first, and one that cannot be deleted keeps every later one', async () => {
    // Before: all unlinked at once on the thread pool, in no order; a later segment (with
    // the ENDs of spans that started in an earlier one) could go first, or alone.
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    startAndEnd(writer, makeSpans(200));
    const live = writer.currentSegment;
    expect(live).toBeGreaterThan(6);
    // Segment 3 cannot be unlinked: a non-empty directory stands where its file was.
    const third = join(writer.writerDir, segmentFileName(3));
    nodeFs.rmSync(third);
    nodeFs.mkdirSync(third);
    nodeFs.writeFileSync(join(third, 'x'), 'x');
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(live);
    await expect.poll(() => segmentNames(writer.writerDir)[0], { timeout: 5000 }).toBe(segmentFileName(3));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const left = segmentNames(writer.writerDir);
    for (let segment = 3; segment < live; segment++) expect(left).toContain(segmentFileName(segment));
    nodeFs.rmSync(third, { recursive: true });
    writer.close({ removeIfDone: false });
  });

  test('a span whose END the journal could not write, exported from memory: recovery does not take it for open while its START segment stays for leaked spans', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 4096 });
    const spans = makeSpans(200);
    const leaked = spans.slice(0, 8);
    for (const span of leaked) writer.appendStart(span);
    const endedInMemory = spans[8]!;
    writer.appendStart(endedInMemory);
    let next = 9;
    for (let round = 0; round < 10; round++) {
      startAndEnd(writer, spans.slice(next, next + 15));
      next += 15;
      // Its END went to the export side's memory (the journal was broken then) and committed.
      if (round === 2) writer.endedElsewhere(endedInMemory);
      writer.appendCommit(writer.position());
      writer.deleteSegmentsBefore(writer.currentSegment);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const facts = await factsOf(writer.writerDir);
    expect(facts.openStarts.size).toBe(leaked.length);
    expect([...facts.openStarts.keys()].some((key) => key.includes(endedInMemory.spanContext().spanId))).toBe(false);
    writer.close({ removeIfDone: false });
  });

  test('an END carries what changed since its START: attributes set and a name given after it', () => {
    const writer = writerIn(tempDir());
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('writer-test');
    const renamed = tracer.startSpan('GET', { attributes: { early: 1 } });
    renamed.updateName('GET /orders/:id');
    renamed.setAttribute('late', 'yes');
    renamed.end();
    const kept = tracer.startSpan('kept', { attributes: { early: 2 } });
    kept.setAttribute('early', 3);
    kept.end();
    // The END reuses the START's attribute JSON only while the keys and values are the same.
    const inPlace = tracer.startSpan('in place', { attributes: { list: ['a'], same: 'x' } });
    // The SDK keeps its own copy of an array; a caller can still reach and change it.
    ((inPlace as unknown as { attributes: { list: string[] } }).attributes.list).push('b');
    inPlace.end();
    const swapped = tracer.startSpan('swapped', { attributes: { gone: 1, same: 'x' } });
    // Same values in the same order under other keys: only the keys tell.
    const swappedAttributes = (swapped as unknown as { attributes: Record<string, unknown> }).attributes;
    delete swappedAttributes.gone;
    delete swappedAttributes.same;
    swapped.setAttribute('added', 1);
    swapped.setAttribute('same', 'x');
    swapped.end();
    const unchanged = tracer.startSpan('unchanged', { attributes: { same: 'x', n: 1 } });
    unchanged.setAttribute('n', 1);
    unchanged.end();
    const records = recordsOf(writer);
    const startOf = (span: typeof kept) => records.find((r) => r.type === RecordType.SpanStart && (r.payload as SpanStartRecord).s === span.spanContext().spanId)!.payload as SpanStartRecord;
    const endOf = (span: typeof kept) => records.find((r) => r.type === RecordType.SpanEnd && (r.payload as SpanEndRecord).s === span.spanContext().spanId)!.payload as SpanEndRecord;
    expect(startOf(renamed)).toMatchObject({ n: 'GET', a: { early: 1 } });
    expect(endOf(renamed)).toMatchObject({ n: 'GET /orders/:id', a: { early: 1, late: 'yes' } });
    expect(startOf(kept)).toMatchObject({ n: 'kept', a: { early: 2 } });
    expect(endOf(kept)).toMatchObject({ n: 'kept', a: { early: 3 } });
    expect(endOf(inPlace).a).toEqual({ list: ['a', 'b'], same: 'x' });
    expect(endOf(swapped).a).toEqual({ added: 1, same: 'x' });
    expect(endOf(unchanged).a).toEqual({ same: 'x', n: 1 });
    writer.close({ removeIfDone: false });
  });

  test('close removes the journal once nothing in it is needed', () => {
    const dir = tempDir();
    const writer = writerIn(dir);
    const [span] = makeSpans(1);
    writer.appendStart(span);
    writer.appendEnd(span);
    writer.close({ removeIfDone: true });
    expect(readdirSync(join(dir, 'journal'))).toEqual([]);
  });
});

test("durability 'host': rotating while a group-commit fdatasync is in flight does not break the journal", async () => {
  const fs = new FaultyFileSystem();
  fs.fault = 'slow-fsync';
  const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 1 });
  for (const span of makeSpans(40)) {
    writer.appendStart(span);
    writer.appendEnd(span);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(writer.currentSegment).toBeGreaterThan(5);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(writer.broken).toBe(false);
  writer.close({ removeIfDone: false });
});

describe("durability 'host': a rotation syncs the closed segment on the thread pool", () => {
  /** Counts the syncs the application's thread waits for, and which files were synced after their last write. */
  class CountingFileSystem extends FaultyFileSystem {
    syncsWaitedFor = 0;
    private readonly paths = new Map<number, string>();
    /** Per file: writes since its last successful sync. */
    private readonly unsyncedWrites = new Map<string, number>();

    constructor() {
      super();
      // The fault-injecting operations (instance properties), wrapped.
      const { openSync, writeSync, fdatasyncSync, fdatasync } = this;
      this.openSync = ((path: string, ...rest: unknown[]) => {
        const fd = (openSync as (...args: unknown[]) => number)(path, ...rest);
        this.paths.set(fd, path);
        return fd;
      }) as typeof openSync;
      this.writeSync = (fd, buffer, offset, length) => {
        const path = this.paths.get(fd)!;
        this.unsyncedWrites.set(path, (this.unsyncedWrites.get(path) ?? 0) + 1);
        return writeSync(fd, buffer, offset, length);
      };
      this.fdatasyncSync = (fd) => {
        this.syncsWaitedFor += 1;
        fdatasyncSync(fd);
      };
      this.fdatasync = (fd, callback) => {
        const path = this.paths.get(fd)!;
        const writes = this.unsyncedWrites.get(path) ?? 0;
        fdatasync(fd, (error) => {
          if (error === null) this.unsyncedWrites.set(path, (this.unsyncedWrites.get(path) ?? 0) - writes);
          callback(error);
        });
      };
    }

    /** Of the first `count` segments of `writer`, how many were synced since their last write. */
    syncedSegments(writer: JournalWriter, count: number): number {
      return Array.from({ length: count }, (_, i) => join(writer.writerDir, segmentFileName(i + 1))).filter((path) => this.unsyncedWrites.get(path) === 0).length;
    }

    /** Waits until every segment `writer` rotated (more than `atLeast`) was synced since its last write. */
    async rotatedAreSynced(writer: JournalWriter, atLeast: number): Promise<void> {
      const rotations = writer.currentSegment - 1;
      expect(rotations).toBeGreaterThan(atLeast);
      await expect.poll(() => this.syncedSegments(writer, rotations), { timeout: 20_000 }).toBe(rotations);
    }

    /** Whether segment number `segment` of `writer` was written since its last sync. */
    unsynced(writer: JournalWriter, segment: number): boolean {
      return (this.unsyncedWrites.get(join(writer.writerDir, segmentFileName(segment))) ?? 0) > 0;
    }
  }

  /** A disk whose background syncs wait until the test releases them (`held`, in order). */
  class HeldDisk extends CountingFileSystem {
    readonly held: (() => void)[] = [];
    constructor() {
      super();
      const { fdatasync } = this;
      this.fdatasync = (fd, callback) => void this.held.push(() => fdatasync(fd, callback));
    }
  }

  test('the application never waits for the disk before close, and every closed segment was synced', async () => {
    const fs = new CountingFileSystem();
    // No group commit in the test's time: only the rotations sync.
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
    startAndEnd(writer, makeSpans(40));
    expect(fs.syncsWaitedFor).toBe(0);
    await fs.rotatedAreSynced(writer, 5);
    expect(writer.broken).toBe(false);
    writer.close({ removeIfDone: false });
    expect(fs.syncsWaitedFor).toBe(1);
  });

  test('close() syncs the closed segments whose rotation sync is still in flight, before it returns', async () => {
    /** A disk whose background syncs do not finish before close(); which files were synced while the caller waited. */
    class SlowDisk extends FaultyFileSystem {
      readonly held: (() => void)[] = [];
      readonly syncedWhileWaiting = new Set<string>();
      private readonly paths = new Map<number, string>();
      constructor() {
        super();
        const { openSync, fdatasyncSync, fdatasync } = this;
        this.openSync = ((path: string, ...rest: unknown[]) => {
          const fd = (openSync as (...args: unknown[]) => number)(path, ...rest);
          this.paths.set(fd, path);
          return fd;
        }) as typeof openSync;
        this.fdatasyncSync = (fd) => {
          fdatasyncSync(fd);
          this.syncedWhileWaiting.add(this.paths.get(fd)!);
        };
        this.fdatasync = (fd, callback) => void this.held.push(() => fdatasync(fd, callback));
      }
    }
    const fs = new SlowDisk();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
    startAndEnd(writer, makeSpans(20));
    const rotated = writer.currentSegment - 1;
    expect(rotated).toBeGreaterThan(3);
    // One sync of ours at a time on the thread pool (the rest wait their turn): one held
    // (once the directory's, first, is done), and no other comes while it is.
    await expect.poll(() => fs.held.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fs.held).toHaveLength(1);
    writer.close({ removeIfDone: false });
    // Every segment is on disk when close() returns: the live one and each rotated one.
    const segments = Array.from({ length: rotated + 1 }, (_, i) => join(writer.writerDir, segmentFileName(i + 1)));
    expect([...fs.syncedWhileWaiting].filter((path) => path.endsWith('.seg')).sort()).toEqual(segments);
    for (const finish of fs.held) finish();
  });

  // The thread pool has four threads, shared with the application's own file, dns.lookup,
  // crypto and zlib calls. On a disk whose syncs took a second, a writer that rotated faster
  // put a sync in flight per rotation and held every thread (a review).
  test('one sync at a time: rotations that outpace a slow disk wait their turn instead of taking every thread of the pool', async () => {
    /** A disk whose syncs take 20 ms each, counting how many of ours are on it at once. */
    class SlowCountingDisk extends CountingFileSystem {
      inFlight = 0;
      mostInFlight = 0;
      constructor() {
        super();
        const { fdatasync } = this;
        this.fdatasync = (fd, callback) => {
          this.mostInFlight = Math.max(this.mostInFlight, ++this.inFlight);
          setTimeout(
            () =>
              fdatasync(fd, (error) => {
                this.inFlight -= 1;
                callback(error);
              }),
            20,
          );
        };
      }
    }
    const fs = new SlowCountingDisk();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 1 });
    const spans = makeSpans(60);
    for (let i = 0; i < spans.length; i += 6) {
      startAndEnd(writer, spans.slice(i, i + 6));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await fs.rotatedAreSynced(writer, 8);
    expect(fs.mostInFlight).toBe(1);
    expect(writer.broken).toBe(false);
    writer.close({ removeIfDone: false });
  });

  // shutdown() waits for this (within its deadline) before close(): on a disk whose syncs
  // took 1.5 s, close() synced every segment still waiting on the application's thread,
  // and a shutdown stalled its event loop for 33 s (a review).
  test('whenSynced() syncs what was written on the thread pool, so that close() waits for no sync', async () => {
    class SlowDisk extends CountingFileSystem {
      constructor() {
        super();
        const { fdatasync } = this;
        this.fdatasync = (fd, callback) => void setTimeout(() => fdatasync(fd, callback), 20);
      }
    }
    const fs = new SlowDisk();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
    startAndEnd(writer, makeSpans(30));
    const segments = writer.currentSegment;
    expect(segments).toBeGreaterThan(5);
    await writer.whenSynced();
    expect(fs.syncedSegments(writer, segments)).toBe(segments);
    writer.close({ removeIfDone: false });
    expect(fs.syncsWaitedFor).toBe(0);
  });

  test("close({ syncHere: false }) (shutdown's deadline passed) leaves the syncs to the thread pool, says so, and they still run", async () => {
    const lines: string[] = [];
    const note = (message: string) => lines.push(message);
    diag.setLogger({ error: note, warn: note, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    try {
      const fs = new HeldDisk();
      const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
      startAndEnd(writer, makeSpans(30));
      const segments = writer.currentSegment;
      writer.close({ removeIfDone: false, syncHere: false });
      expect(fs.syncsWaitedFor).toBe(0);
      const leftToPool = () => lines.filter((line) => line.includes('could not wait'));
      expect(leftToPool()).toHaveLength(1);
      expect(leftToPool()[0]).toContain(`${segments} segments are left to the thread pool`);
      const said = lines.length;
      const allSynced = () => fs.syncedSegments(writer, segments) === segments;
      while (!allSynced()) {
        await expect.poll(() => fs.held.length > 0 || allSynced()).toBe(true);
        fs.held.shift()?.();
      }
      // Nothing said to a closed writer's log as they finish.
      expect(lines).toHaveLength(said);
    } finally {
      diag.disable();
    }
  });

  test('a journal removed at close (everything committed, nothing open) is not synced first', () => {
    const fs = new CountingFileSystem();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
    startAndEnd(writer, makeSpans(30));
    writer.close({ removeIfDone: true });
    expect(fs.syncsWaitedFor).toBe(0);
    expect(() => readdirSync(writer.writerDir)).toThrow(/ENOENT/);
  });

  // A group commit queued behind a rotation's sync, its segment rotated before its turn: a
  // closed file's sync returns at once, and counted as a group commit it let the segments
  // go whose open STARTs that segment's unsynced copies stood for (a review).
  test('a group commit whose segment rotated before its turn counts for nothing: no segment goes before the copies carried out of it are synced', async () => {
    const fs = new HeldDisk();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 4096, groupCommitMillis: 5 });
    const [open, ...spans] = makeSpans(200);
    writer.appendStart(open!);
    let next = 0;
    const rotateOnce = () => {
      const segment = writer.currentSegment;
      while (writer.currentSegment === segment) startAndEnd(writer, [spans[next++]!]);
    };
    const releaseAll = async () => {
      for (let i = 0; i < 20; i++) {
        while (fs.held.length > 0) fs.held.shift()!();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    rotateOnce();
    rotateOnce();
    await releaseAll();
    rotateOnce(); // its sync is held: the queue is busy
    const live = writer.currentSegment;
    writer.deleteSegmentsBefore(live); // the open span's START is carried into `live`
    await new Promise((resolve) => setTimeout(resolve, 20)); // a group commit of `live` queued
    rotateOnce(); // `live` closes before that group commit's turn
    fs.held.shift()!();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    // The first segment holds the open span's START: it may go only once its copy is on disk.
    if (fs.unsynced(writer, live)) expect(existsSync(join(writer.writerDir, segmentFileName(1)))).toBe(true);
    await releaseAll();
    expect(fs.unsynced(writer, live)).toBe(false);
    writer.close({ removeIfDone: false });
  });

  test('a closed segment that cannot be opened for its sync for a moment (out of descriptors) is synced a little later, not counted a failure', async () => {
    class ShortOfDescriptors extends CountingFileSystem {
      refusals = 3;
      constructor() {
        super();
        const { openSync } = this;
        this.openSync = ((path: string, flags: string, ...rest: unknown[]) => {
          if (flags === 'r' && this.refusals > 0) {
            this.refusals -= 1;
            throw Object.assign(new Error('EMFILE: too many open files (injected by test)'), { code: 'EMFILE' });
          }
          return (openSync as (...args: unknown[]) => number)(path, flags, ...rest);
        }) as typeof openSync;
      }
    }
    const fs = new ShortOfDescriptors();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
    startAndEnd(writer, makeSpans(20));
    await fs.rotatedAreSynced(writer, 3);
    expect(fs.refusals).toBe(0);
    expect(writer.broken).toBe(false);
    writer.close({ removeIfDone: false });
  });

  test('closed segments waiting for their sync past SYNC_BACKLOG_MILLIS are said once, and the end of that backlog', async () => {
    const lines: string[] = [];
    const note = (message: string) => lines.push(message);
    diag.setLogger({ error: note, warn: note, info: note, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
    try {
      const fs = new HeldDisk();
      const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
      const spans = makeSpans(60);
      startAndEnd(writer, spans.slice(0, 30));
      expect(writer.currentSegment).toBeGreaterThan(4);
      const backlog = () => lines.filter((line) => line.includes('wait for their sync'));
      // Many queued at once, behind one sync: not yet a backlog.
      expect(backlog()).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, SYNC_BACKLOG_MILLIS + 100));
      startAndEnd(writer, spans.slice(30));
      expect(backlog()).toHaveLength(1);
      expect(backlog()[0]).toContain(writer.writerDir);
      const caughtUp = () => lines.some((line) => line.includes('caught up'));
      while (!caughtUp()) {
        await expect.poll(() => fs.held.length > 0 || caughtUp()).toBe(true);
        fs.held.shift()?.();
      }
      expect(backlog()).toHaveLength(1);
      expect(writer.broken).toBe(false);
      writer.close({ removeIfDone: false });
    } finally {
      diag.disable();
    }
  });

  test('a closed segment that cannot be synced breaks the journal, as a failed group commit does', async () => {
    const fs = new CountingFileSystem();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 2048, groupCommitMillis: 60_000 });
    fs.fault = 'fsync-eio';
    const spans = makeSpans(20);
    startAndEnd(writer, spans);
    expect(writer.currentSegment).toBeGreaterThan(1);
    await expect.poll(() => writer.broken).toBe(true);
    writer.close({ removeIfDone: false });
  });
});

describe.each<Fault>(['short-writes', 'eagain'])('JournalWriter under %s', (fault) => {
  test('every record still arrives whole', () => {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs });
    fs.fault = fault;
    const spans = makeSpans(30);
    for (const span of spans) {
      expect(writer.appendStart(span)).toBe('written');
      expect(writer.appendEnd(span)).toBe('written');
    }
    const ends = recordsOf(writer).filter((r) => r.type === RecordType.SpanEnd);
    expect(ends).toHaveLength(30);
    writer.close({ removeIfDone: false });
  });
});

describe.each<Fault>(['enospc', 'enospc-midway', 'fsync-eio'])('JournalWriter under %s', (fault) => {
  test('reports broken without throwing, leaves no partial frame, and repairs when the fault clears', async () => {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs, durability: fault === 'fsync-eio' ? 'host' : 'process' });
    const spans = makeSpans(4);
    expect(writer.appendStart(spans[0])).toBe('written');
    fs.fault = fault;
    if (fault === 'fsync-eio') {
      writer.appendStart(spans[1]);
      await expect.poll(() => writer.broken).toBe(true);
    } else {
      expect(writer.appendStart(spans[1])).toBe('broken');
    }
    expect(writer.broken).toBe(true);
    const contents = segmentNames(writer.writerDir).map((name) => readSegment(readFileSync(join(writer.writerDir, name))));
    for (const segment of contents) {
      expect(segment.damaged).toEqual([]);
      expect(segment.tornTailBytes).toBe(0);
    }
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    expect(writer.appendStart(spans[2])).toBe('written');
    expect(writer.appendEnd(spans[2])).toBe('written');
    writer.close({ removeIfDone: false });
  });
});

/** A 'host' writer whose group commit's sync failed (EIO, the fault left on), and `count` spans to write with. */
async function brokenBySync(count: number) {
  const fs = new FaultyFileSystem();
  const writer = writerIn(tempDir(), { fs, durability: 'host', groupCommitMillis: 5 });
  const spans = makeSpans(count);
  fs.fault = 'fsync-eio';
  writer.appendStart(spans[0]!);
  await expect.poll(() => writer.broken).toBe(true);
  return { fs, writer, spans };
}

// Under 'host', a repair opens a fresh segment, and said "writable again" at once; with
// every sync failing (a dying disk), each group commit broke it again: an error and a
// "writable again" line a second, stats() healthy in between, and no sync ever made (a
// review). A repair is a recovery once a sync after it has succeeded.
test("under 'host', the journal is writable again only once a sync after the repair succeeds: a disk whose syncs keep failing is one episode", async () => {
  const lines: string[] = [];
  const note = (message: string) => lines.push(message);
  diag.setLogger({ error: note, warn: note, info: () => {}, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  try {
    const { fs, writer, spans } = await brokenBySync(6);
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(writer.tryRepair()).toBe(true);
      expect(writer.healthy).toBe(false);
      writer.appendStart(spans[attempt]!);
      await expect.poll(() => writer.broken).toBe(true);
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.filter((line) => line.includes('writable again'))).toEqual([]);
    expect(lines.filter((line) => line.includes('cannot be written'))).toHaveLength(1);
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    expect(writer.healthy).toBe(false);
    writer.appendStart(spans[4]!);
    await expect.poll(() => writer.healthy).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.filter((line) => line.includes('writable again'))).toHaveLength(1);
    writer.close({ removeIfDone: false });
  } finally {
    diag.disable();
  }
});

test("under 'host', a repair whose syncs fail again is retried after a doubling pause, not every second with a new segment each time", async () => {
  const { fs, writer, spans } = await brokenBySync(4);
  expect(writer.maintain()).toBe(true); // the first repair: at once
  writer.appendStart(spans[1]!);
  await expect.poll(() => writer.broken).toBe(true);
  const files = segmentNames(writer.writerDir).length;
  // Its sync failed: the next maintain() passes (a second later), and makes no segment.
  expect(writer.maintain()).toBe(false);
  expect(segmentNames(writer.writerDir)).toHaveLength(files);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  fs.fault = 'none';
  expect(writer.maintain()).toBe(true);
  writer.appendStart(spans[2]!);
  await expect.poll(() => writer.healthy).toBe(true);
  writer.close({ removeIfDone: false });
});

describe('the spare segment of the mapped path', () => {
  useJournalIo('mmap');
  const idle = () => new Promise((resolve) => setImmediate(resolve));

  test('is made halfway through a segment, all zeros (read as no records yet), used by the rotation, and removed at close', async (context) => {
    if (expectedJournalIo('mmap') !== 'mmap') return context.skip();
    const writer = writerIn(tempDir(), { maxSegmentBytes: 64 * 1024 });
    const spans = makeSpans(400);
    let written = 0;
    const writeOne = () => {
      writer.appendStart(spans[written]!);
      writer.appendEnd(spans[written]!);
      written += 1;
    };
    const files = () => segmentNames(writer.writerDir).sort();
    while (files().length < 2) {
      writeOne();
      await idle();
      expect(written).toBeLessThan(400);
    }
    expect(writer.currentSegment).toBe(1);
    const sparePath = join(writer.writerDir, files()[1]!);
    const spare = readFileSync(sparePath);
    expect(spare.length).toBeGreaterThan(64 * 1024);
    expect(spare.every((byte) => byte === 0)).toBe(true);
    expect(readSegment(spare)).toMatchObject({ records: [], damaged: [], zeroTail: true });
    const { ino } = statSync(sparePath);

    // Synchronously on to the rotation: the spare is the segment written next.
    while (writer.currentSegment === 1) writeOne();
    expect(statSync(sparePath).ino).toBe(ino);
    const second = readSegment(readFileSync(sparePath));
    expect(second.records[0]!.type).toBe(RecordType.SegmentHeader);
    expect(second.damaged).toEqual([]);

    while (written < 400) {
      writeOne();
      await idle();
    }
    writer.close({ removeIfDone: false });
    // No spare is left behind: every file holds a segment header.
    for (const name of files()) expect(readSegment(readFileSync(join(writer.writerDir, name))).records[0]?.type).toBe(RecordType.SegmentHeader);
    const records = recordsOf(writer);
    expect(records.filter((r) => r.type === RecordType.SpanStart).length).toBeGreaterThanOrEqual(400);
    expect(new Set(records.filter((r) => r.type === RecordType.SpanEnd).map((r) => (r.payload as SpanStartRecord).s)).size).toBe(400);
  });
});

test("durability 'host': a segment whose open spans were carried forward is deleted only after the copies are synced", async () => {
  const writer = writerIn(tempDir(), { durability: 'host', maxSegmentBytes: 4096, groupCommitMillis: 50 });
  const longRunning = oneLeftOpenAmong(writer, 60);
  const live = writer.currentSegment;
  expect(live).toBeGreaterThan(3);
  const segments = writer.segmentsOnDisk;
  writer.deleteSegmentsBefore(live);
  // Carried at once, but the segments stay until a group commit that began after the copy
  // was written has synced it ('process' deletes them in this call: see above).
  expect(writer.segmentsOnDisk).toBeGreaterThanOrEqual(segments);
  await expect.poll(() => writer.segmentsOnDisk, { timeout: 10_000 }).toBe(writer.currentSegment - live + 1);
  await expect.poll(() => filesBefore(writer, live)).toEqual([]);
  const starts = recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s);
  expect(starts.filter((id) => id === longRunning.spanContext().spanId)).toHaveLength(1);
  writer.close({ removeIfDone: false });
});

// A broken journal (a full disk, a failed sync) must still never leave an open span without
// a START on disk: its crash record depends on it. The write(2) path, where a full disk
// shows as ENOSPC on a write (the faulty file system's).
describe('a broken journal keeps the START of every span still open', () => {
  const startsOnDisk = (writer: JournalWriter): string[] =>
    recordsOf(writer)
      .filter((r) => r.type === RecordType.SpanStart)
      .map((r) => (r.payload as SpanStartRecord).s);

  /** A writer with `open` started, broken by a full disk at the START of `other`. */
  function brokenAfterOneStart(): { fs: FaultyFileSystem; writer: JournalWriter; open: ReadableSpan } {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs });
    const [open, other] = makeSpans(2);
    writer.appendStart(open);
    fs.fault = 'enospc';
    expect(writer.appendStart(other)).toBe('broken');
    return { fs, writer, open };
  }

  test('a span started while the journal is broken gets its START from the repair, and one started at the cap once there is room', () => {
    // Before: a START refused ('broken' or 'full') was never written later: the span had no
    // START for its whole life, and a crash left no crash record and no count of it.
    const { fs, writer, open } = brokenAfterOneStart();
    const [whileBroken] = makeSpans(1);
    expect(writer.appendStart(whileBroken!)).toBe('broken');
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    expect(startsOnDisk(writer)).toEqual(expect.arrayContaining([open.spanContext().spanId, whileBroken!.spanContext().spanId]));
    writer.close({ removeIfDone: false });
  });

  test('a span started at maxJournalBytes gets its START once committed segments make room', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 2048, maxJournalBytes: 16 * 1024 });
    const spans = makeSpans(400);
    let atCap: ReadableSpan | undefined;
    for (const span of spans) {
      if (writer.appendStart(span) === 'full') {
        atCap = span;
        break;
      }
      writer.appendEnd(span);
    }
    expect(atCap).toBeDefined();
    expect(startsOnDisk(writer)).not.toContain(atCap!.spanContext().spanId);
    // Everything before the live segment commits: its segments go, and the START is written.
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(writer.currentSegment);
    await expect.poll(() => startsOnDisk(writer), { timeout: 5_000 }).toContain(atCap!.spanContext().spanId);
    writer.close({ removeIfDone: false });
  });

  test('a span that ended while the journal was broken keeps its START through the repair and a commit, until its copy in memory is exported', async () => {
    // Before: appendEnd took the span out of the open spans; the repair (nothing exported
    // yet) deleted the segment holding its START, and until the caller's memory batch
    // committed a crash left no trace of the span.
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs });
    const [endedWhileBroken] = makeSpans(1);
    writer.appendStart(endedWhileBroken!);
    fs.fault = 'enospc';
    expect(writer.appendEnd(endedWhileBroken!)).toBe('broken');
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    expect(startsOnDisk(writer)).toContain(endedWhileBroken!.spanContext().spanId);
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(writer.currentSegment);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(startsOnDisk(writer)).toContain(endedWhileBroken!.spanContext().spanId);
    // Exported from memory: nothing keeps its START any more, and the journal can go.
    writer.endedElsewhere(endedWhileBroken!);
    writer.close({ removeIfDone: true });
    expect(nodeFs.existsSync(writer.writerDir)).toBe(false);
  });

  test('a span that ended while the journal was broken, once exported from memory, is written down as ended at once: a crash right after leaves no crash record for it', async () => {
    // Before: the note was written only at the next deletion its START's segment outlived,
    // and recovery of a crash before that read the START with no END: a crash record for a
    // span whose row had been committed as ended.
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs });
    const [endedWhileBroken, stillOpen] = makeSpans(2);
    writer.appendStart(endedWhileBroken!);
    writer.appendStart(stillOpen!);
    fs.fault = 'enospc';
    expect(writer.appendEnd(endedWhileBroken!)).toBe('broken');
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    writer.endedElsewhere(endedWhileBroken!);
    // The process dies here (the writer is never closed): what would recovery take for open?
    await expect.poll(async () => [...(await factsOf(writer.writerDir)).openStarts.keys()], { timeout: 5_000 }).toEqual([
      spanKey(stillOpen!.spanContext().traceId, stillOpen!.spanContext().spanId),
    ]);
    writer.close({ removeIfDone: false });
  });

  test('a journal broken and repaired in one turn of the event loop says so in that order', async () => {
    // Before: the failure was said once the writer's call was done (a microtask), the
    // repair at once, so the log ended on "cannot be written" with the journal healthy.
    const lines: string[] = [];
    const note = (message: string) => void lines.push(message);
    diag.setLogger({ error: note, warn: note, info: note, debug: () => {}, verbose: () => {} }, { logLevel: DiagLogLevel.INFO, suppressOverrideMessage: true });
    try {
      const fs = new FaultyFileSystem();
      const writer = writerIn(tempDir(), { fs });
      const [span] = makeSpans(1);
      writer.appendStart(span!);
      fs.fault = 'enospc';
      expect(writer.appendEnd(span!)).toBe('broken');
      fs.fault = 'none';
      expect(writer.tryRepair()).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      const said = lines.filter((line) => line.includes('cannot be written') || line.includes('writable again'));
      expect(said.map((line) => (line.includes('writable again') ? 'repaired' : 'broken'))).toEqual(['broken', 'repaired']);
      writer.close({ removeIfDone: false });
    } finally {
      diag.disable();
    }
  });

  test('a repair that fails deletes nothing an open span needs', () => {
    const { fs, writer, open } = brokenAfterOneStart();
    expect(writer.tryRepair()).toBe(false);
    expect(startsOnDisk(writer)).toContain(open.spanContext().spanId);
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    expect(startsOnDisk(writer)).toContain(open.spanContext().spanId);
    writer.close({ removeIfDone: false });
  });

  test('a commit after a failed repair keeps the segment that holds an open span’s START', async () => {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs, maxSegmentBytes: 4096 });
    const open = oneLeftOpenAmong(writer, 60);
    const live = writer.currentSegment;
    fs.fault = 'enospc';
    writer.appendStart(makeSpans(1)[0]!);
    expect(writer.tryRepair()).toBe(false);
    // A batch handed out before the journal broke commits.
    writer.deleteSegmentsBefore(live);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(startsOnDisk(writer)).toContain(open.spanContext().spanId);
    writer.close({ removeIfDone: false });
  });

  test('a repair after the directory was removed writes the lost STARTs of open spans a bounded number per turn, not all in one head (review F1: 508 ms with 50,000 open)', async () => {
    const writer = writerIn(tempDir());
    const open = makeSpans(3 * OPEN_SPANS_CARRIED_PER_TURN + 10);
    for (const span of open) writer.appendStart(span);
    nodeFs.rmSync(writer.writerDir, { recursive: true, force: true });
    const starts = () => recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).length;
    expect(writer.maintain()).toBe(true); // noticed, and made again
    expect(starts()).toBeLessThanOrEqual(OPEN_SPANS_CARRIED_PER_TURN);
    // The rest follow in later turns, each once.
    await expect.poll(starts).toBe(open.length);
    const ids = new Set(recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).map((r) => (r.payload as SpanStartRecord).s));
    expect(ids.size).toBe(open.length);
    writer.close({ removeIfDone: false });
  });

  test('a repair after the live segment was removed writes down the spans whose END it held and whose START stays: they do not come back as crash records (review of the repair change)', async () => {
    const writer = writerIn(tempDir(), { maxSegmentBytes: 16 * 1024, fs: nodeFs });
    const [ended, openInLive, ...longLived] = makeSpans(200);
    writer.appendStart(ended!);
    // Spans left open fill segment 1: mostly their STARTs, it is kept once committed.
    let i = 0;
    while (writer.currentSegment === 1) writer.appendStart(longLived[i++]!);
    writer.appendEnd(ended!); // its END in segment 2, its START in segment 1
    writer.appendStart(openInLive!);
    writer.appendCommit(writer.position());
    writer.deleteSegmentsBefore(2);
    expect(nodeFs.existsSync(join(writer.writerDir, segmentFileName(1)))).toBe(true);
    nodeFs.unlinkSync(join(writer.writerDir, segmentFileName(2)));
    expect(writer.maintain()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const facts = await readJournalFacts(writer.writerDir);
    const key = (span: ReadableSpan) => spanKey(span.spanContext().traceId, span.spanContext().spanId);
    expect(facts.openStarts.has(key(ended!))).toBe(false);
    // The span open in the removed segment has its START again, and those left open theirs.
    expect(facts.openStarts.has(key(openInLive!))).toBe(true);
    expect(facts.openStarts.size).toBe(i + 1);
    writer.close({ removeIfDone: false });
  });

  test('a repair after a full disk writes no STARTs again: those of open spans are still in their segments (review F1: every second, while the disk stayed full)', () => {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs });
    const open = makeSpans(2 * OPEN_SPANS_CARRIED_PER_TURN);
    for (const span of open) writer.appendStart(span);
    fs.fault = 'enospc';
    writer.appendStart(makeSpans(1)[0]!);
    expect(writer.broken).toBe(true);
    expect(writer.tryRepair()).toBe(false); // still full
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    // One copy each, and the START the full disk refused, written now.
    const copies = recordsOf(writer).filter((r) => r.type === RecordType.SpanStart).length;
    expect(copies).toBe(open.length + 1);
    writer.close({ removeIfDone: false });
  });

  test("'host': nothing is deleted after a repair before the STARTs its new segment carries are synced", async () => {
    const fs = new FaultyFileSystem();
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 4096, groupCommitMillis: 50 });
    const open = oneLeftOpenAmong(writer, 60);
    await new Promise((resolve) => setTimeout(resolve, 300));
    fs.fault = 'enospc';
    writer.appendStart(makeSpans(1)[0]!);
    fs.fault = 'none';
    expect(writer.tryRepair()).toBe(true);
    const segments = writer.segmentsOnDisk;
    writer.deleteSegmentsBefore(writer.currentSegment);
    expect(writer.segmentsOnDisk).toBe(segments);
    await expect.poll(() => writer.segmentsOnDisk, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => segmentNames(writer.writerDir)).toHaveLength(1);
    expect(startsOnDisk(writer)).toContain(open.spanContext().spanId);
    writer.close({ removeIfDone: false });
  });

  test("'host': a segment stays when the sync of the segment its open spans were carried into failed", async () => {
    let failNextSync = false;
    const fs: SegmentFileSystem = {
      ...nodeFs,
      fdatasync: (fd, callback) => {
        if (!failNextSync) return nodeFs.fdatasync(fd, callback);
        failNextSync = false;
        setTimeout(() => callback(Object.assign(new Error('EIO (injected)'), { code: 'EIO' })), 5);
      },
    };
    const writer = writerIn(tempDir(), { fs, durability: 'host', maxSegmentBytes: 4096, groupCommitMillis: 30 });
    const [open, ...others] = makeSpans(120);
    writer.appendStart(open);
    startAndEnd(writer, others.slice(0, 60));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const carriedInto = writer.currentSegment;
    writer.deleteSegmentsBefore(carriedInto);
    // The sync of `carriedInto`, closed by the rotation below, fails.
    failNextSync = true;
    for (const span of others.slice(60)) {
      writer.appendStart(span);
      writer.appendEnd(span);
      if (writer.currentSegment > carriedInto) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(writer.broken).toBe(true);
    // The copy is in a segment whose sync failed: the synced original must stay.
    expect(readdirSync(writer.writerDir)).toContain(segmentFileName(1));
    writer.close({ removeIfDone: false });
  });

  test('an END that arrives while the journal is broken: the span is no longer offered as open, its START is kept for it', () => {
    const { writer, open } = brokenAfterOneStart();
    const { traceId, spanId } = open.spanContext();
    expect(writer.appendEnd(open)).toBe('broken');
    expect(writer.openSpan(traceId, spanId)).toBeUndefined();
    const offered: ReadableSpan[] = [];
    for (let span = writer.nextUnreadOpenSpan(); span !== undefined; span = writer.nextUnreadOpenSpan()) {
      offered.push(span);
      writer.readOpenSpan();
    }
    expect(offered).not.toContain(open);
    // Kept: the span that ended (until endedElsewhere), and the one started while the journal was broken (its START waits for the repair).
    expect(writer.openSpanCount).toBe(2);
    writer.endedElsewhere(open);
    expect(writer.openSpanCount).toBe(1);
    writer.close({ removeIfDone: false });
  });
});

test('a writer that cannot write its first segment leaves no descriptor and no directory behind', () => {
  // The processor tries again every second with a new writer: each failed attempt kept its
  // segment's descriptor open and its directory on disk, for as long as the disk was full.
  const dir = tempDir();
  const fs = new FaultyFileSystem();
  fs.fault = 'enospc';
  for (let attempt = 0; attempt < 5; attempt++) {
    const identity = { ...currentWriterIdentity(), writerId: `${currentWriterIdentity().writerId}-${attempt}` };
    expect(() => writerIn(dir, { identity, fs })).toThrow(/ENOSPC/);
  }
  expect(descriptorsUnder(dir)).toEqual([]);
  expect(readdirSync(join(dir, 'journal'))).toEqual([]);
});

// An attack on what an idle service pays: under 'host', each heartbeat (every 2 s) was
// synced on its own, about 1,800 syncs and 7 MB of writes an hour with no span at all. A
// heartbeat is a sign of life, not a record anything waits on: it is synced with the next
// record that is, and after a power loss an idle writer's crash records end at the last one.
test("durability 'host': heartbeats alone are not synced; the next span record syncs them with it", async () => {
  class SyncCounting extends FaultyFileSystem {
    syncs = 0;
    override fdatasync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
      this.syncs += 1;
      nodeFs.fdatasync(fd, callback);
    };
  }
  const fs = new SyncCounting();
  const writer = writerIn(tempDir(), { fs, durability: 'host', groupCommitMillis: 1 });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  await settle();
  const atStart = fs.syncs;
  for (let i = 0; i < 5; i++) {
    writer.appendHeartbeat();
    await settle();
  }
  expect(fs.syncs).toBe(atStart);
  const [span] = makeSpans(1);
  writer.appendStart(span!);
  await settle();
  expect(fs.syncs).toBe(atStart + 1);
  writer.close({ removeIfDone: false });
});
