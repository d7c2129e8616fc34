// The tail hands out every END exactly once and in order, whether it takes the span
// objects the writer just wrote or reads them back from disk after falling behind.
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { JournalTail } from '../../src/journal/JournalTail.js';
import { segmentFileName } from '../../src/journal/journalPaths.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { testJournalWriter } from '../helpers/testJournalWriter.js';
import { runFixture } from '../helpers/childProcess.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();


describe.each(JOURNAL_IO_PATHS.flatMap((io) => [0, 1, 7, 100_000].map((capacity) => [io, capacity] as const)))('JournalTail writing with %s, %i recent ENDs kept in memory', (io, recentEndsCapacity) => {
  useJournalIo(io);
  test('every END once, in order, across rotations, with its resource', () => {
    const writer = testJournalWriter(tempDir(), 8 * 1024, recentEndsCapacity);
    const tail = new JournalTail(writer);
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'tail-test' }),
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('tail');
    const ended: string[] = [];
    const handedOut: ReadableSpan[] = [];
    // Interleave writing and reading in uneven steps, so the tail is sometimes caught up
    // and sometimes far behind the recent window.
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < (round * 7) % 23; i++) {
        const span = tracer.startSpan(`r${round}-${i}`, { attributes: { round, i } });
        span.end();
        ended.push(span.spanContext().spanId);
        if (i % 9 === 0) writer.appendHeartbeat();
      }
      for (let batch = tail.nextBatch(1 + (round % 5)); batch; batch = round % 3 ? undefined : tail.nextBatch(4)) {
        handedOut.push(...batch.spansInto([]));
        tail.committed(batch);
      }
    }
    for (let batch = tail.nextBatch(10); batch; batch = tail.nextBatch(10)) {
      handedOut.push(...batch.spansInto([]));
      tail.committed(batch);
    }
    expect(writer.currentSegment).toBeGreaterThan(3);
    expect(handedOut.map((span) => span.spanContext().spanId)).toEqual(ended);
    expect(handedOut.every((span) => span.resource.attributes['service.name'] === 'tail-test')).toBe(true);
    // The tracer's own scope object, and one for every span of it read back: exporters group by it.
    expect(new Set(handedOut.map((span) => span.instrumentationScope)).size).toBeLessThanOrEqual(2);
    expect(handedOut[0].instrumentationScope.name).toBe('tail');
    expect(tail.endsCommitted).toBe(ended.length);
    expect(tail.backlog).toBe(0);
    writer.close({ removeIfDone: true });
  });
});

describe.each([0, 100_000])('batches of very large records, %i recent ENDs kept in memory', (recentEndsCapacity) => {
  test('end at MAX_BATCH_CHARS, one record at least: 512 records of megabytes are not one transaction', () => {
    // Before: a batch of 512 ENDs of up to 64 MiB each, gigabytes in one transaction, more
    // than PostgreSQL takes in one message: it failed for good, and held back every record after it.
    const writer = testJournalWriter(tempDir(), 64 * 1024 * 1024, recentEndsCapacity);
    const tail = new JournalTail(writer);
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('large');
    const payload = 'x'.repeat(5 * 1024 * 1024);
    for (let i = 0; i < 12; i++) tracer.startSpan(`large ${i}`, { attributes: { payload } }).end();
    for (let i = 0; i < 20; i++) tracer.startSpan(`small ${i}`).end();
    const sizes: number[] = [];
    for (let batch = tail.nextBatch(512); batch; batch = tail.nextBatch(512)) {
      sizes.push(batch.spanCount);
      tail.committed(batch);
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(32);
    // Each 5 MiB END counts 5 MiB of its START's text again: 16 MiB is reached at the 2nd or 3rd.
    expect(Math.max(...sizes.slice(0, -1))).toBeLessThanOrEqual(4);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    writer.close({ removeIfDone: false });
  });
});

describe('the window of recent ENDs held in memory', () => {
  // What the window holds when a burst outruns the reader survives that burst's scavenges
  // and is promoted (RecentEnds.ts): it is bounded in records and in characters.
  function writeSpans(recentEndsCapacity: number, recentEndsChars: number, attributes: Record<string, string | number>[]) {
    const writer = testJournalWriter(tempDir(), 1024 * 1024, recentEndsCapacity, recentEndsChars);
    const tail = new JournalTail(writer);
    const written: ReadableSpan[] = [];
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => { writer.appendEnd(span); written.push(span); }, forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('window');
    for (const [i, attrs] of attributes.entries()) tracer.startSpan(`w${i}`, { attributes: attrs }).end();
    const handedOut: ReadableSpan[] = [];
    for (let batch = tail.nextBatch(100); batch; batch = tail.nextBatch(100)) {
      handedOut.push(...batch.spansInto([]));
      tail.committed(batch);
    }
    writer.close({ removeIfDone: true });
    return { written, handedOut };
  }
  const padded = (n: number) => Array.from({ length: n }, (_, i) => ({ i, padding: 'p'.repeat(2000) }));

  test('within both bounds the tail hands out the very objects written', () => {
    const { written, handedOut } = writeSpans(100, 1024 * 1024, padded(10));
    expect(handedOut.map((span) => span.name)).toEqual(written.map((span) => span.name));
    expect(handedOut.every((span, i) => span === written[i])).toBe(true);
  });

  test('past its characters, ENDs are read back from disk: every one, once, in order', () => {
    // Ten ENDs of more than 2,000 characters each, against a window of 8,000.
    const { written, handedOut } = writeSpans(100, 8000, padded(10));
    expect(handedOut.map((span) => `${span.name}:${span.attributes.i}`)).toEqual(written.map((span) => `${span.name}:${span.attributes.i}`));
    expect(handedOut.some((span, i) => span !== written[i])).toBe(true);
    expect(handedOut.every((span) => span.attributes.padding === 'p'.repeat(2000))).toBe(true);
  });

  test('past its records, the same', () => {
    const { written, handedOut } = writeSpans(4, 1024 * 1024, padded(10));
    expect(handedOut.map((span) => span.name)).toEqual(written.map((span) => span.name));
    expect(handedOut.some((span, i) => span !== written[i])).toBe(true);
  });
});

describe.each(JOURNAL_IO_PATHS)('a batch read back from disk, writing with %s', (io) => {
  useJournalIo(io);
  test('holds bytes, not spans: each export attempt gets spans parsed anew, the same ones', () => {
    const writer = testJournalWriter(tempDir(), 1024 * 1024, 0);
    const tail = new JournalTail(writer);
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('attempts');
    for (let i = 0; i < 5; i++) tracer.startSpan(`a${i}`, { attributes: { i } }).end();
    const batch = tail.nextBatch(10)!;
    const first = batch.spansInto([]);
    const retry = batch.spansInto([]);
    expect(retry.map((span) => span.name)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(retry.map((span) => span.attributes.i)).toEqual([0, 1, 2, 3, 4]);
    expect(retry.every((span, i) => span !== first[i])).toBe(true);
    tail.committed(batch);
    expect(tail.endsCommitted).toBe(5);
    writer.close({ removeIfDone: true });
  });

  test('batches in flight keep their own bytes while later ones are read (the read buffer and committed batches\' buffers are reused)', () => {
    const writer = testJournalWriter(tempDir(), 4 * 1024 * 1024, 0);
    const tail = new JournalTail(writer);
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('in-flight');
    // ~1 KiB per END: each batch of 300 spans is read from several 64 KiB chunks.
    const padding = 'x'.repeat(900);
    const total = 3000;
    for (let i = 0; i < total; i++) tracer.startSpan(`s${i}`, { attributes: { i, padding } }).end();
    const names = (spans: ReadableSpan[]) => spans.map((span) => `${span.name}:${span.attributes.i}:${span.attributes.padding === padding}`);
    const expected = (from: number) => Array.from({ length: 300 }, (_, k) => `s${from + k}:${from + k}:true`);
    const inFlight = [tail.nextBatch(300)!, tail.nextBatch(300)!, tail.nextBatch(300)!];
    let next = 900;
    for (let from = 0; inFlight.length > 0; from += 300) {
      // The oldest batch, parsed after the later ones were read: its bytes are intact.
      const oldest = inFlight.shift()!;
      expect(names(oldest.spansInto([]))).toEqual(expected(from));
      tail.committed(oldest);
      // Once committed its buffer serves a later batch: it is not read again.
      expect(() => oldest.spansInto([])).toThrow(/committed/);
      const batch = tail.nextBatch(300);
      if (batch) {
        inFlight.push(batch);
        next += 300;
      }
    }
    expect(next).toBe(total);
    expect(tail.endsCommitted).toBe(total);
    expect(tail.backlog).toBe(0);
    writer.close({ removeIfDone: true });
  });
});

describe.each(JOURNAL_IO_PATHS)('a segment the tail cannot read, writing with %s', (io) => {
  useJournalIo(io);
  test('for now (EMFILE): is waited for, not skipped as deleted; once readable, every END goes out once', async () => {
    // Before: any error opening a closed segment read as "deleted": its ENDs were counted
    // lost and the next commit unlinked the intact file. Run in a child process, which
    // takes every descriptor it may open before the tail reads.
    const child = runFixture(join(import.meta.dirname, '../fixtures/tailUnderEmfile.mjs'), {
      DIR: tempDir(),
      ...(io === 'write' ? { OTEL_BLACKBOX_JOURNAL_IO: 'write' } : {}),
    });
    const result = await child.ready;
    expect((await child.exited).code).toBe(0);
    expect(result).toMatchObject({ threw: false, lostUnderEmfile: 0, lost: 0, allOnce: true });
    expect(Number(result.segments)).toBeGreaterThan(2);
    expect(Number(result.segmentsUnderEmfile)).toBeGreaterThan(2);
  });

  test('for good (a directory under its name): is damage, counted lost and said, and the tail goes on without throwing', () => {
    // Before, a read error (EISDIR, as EIO) was thrown through the export loop, unhandled.
    const writer = testJournalWriter(tempDir(), 8 * 1024, 0);
    const tail = new JournalTail(writer);
    const provider = new BasicTracerProvider({
      spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
    });
    const tracer = provider.getTracer('tail');
    for (let i = 0; i < 200; i++) tracer.startSpan(`span ${i}`, { attributes: { padding: 'x'.repeat(40) } }).end();
    const first = join(writer.writerDir, segmentFileName(1));
    rmSync(first);
    mkdirSync(first);
    const handedOut: ReadableSpan[] = [];
    expect(() => {
      for (let batch = tail.nextBatch(50); batch; batch = tail.nextBatch(50)) {
        handedOut.push(...batch.spansInto([]));
        tail.committed(batch);
      }
    }).not.toThrow();
    expect(tail.recordsLost).toBeGreaterThan(0);
    expect(handedOut.length + tail.recordsLost).toBe(200);
    rmdirSync(first);
    writer.close({ removeIfDone: true });
  });
});
