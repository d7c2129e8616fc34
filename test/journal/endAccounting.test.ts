// The tail settles every END exactly once against the segment it landed in. An END whose
// write made the writer rotate first (a record larger than the room left in a mapped
// segment) used to be counted in the segment before: once the tail passed that segment it
// reported the END as "could not be read back … lost" (a false alarm seen in the crash
// torture), and flush accounting and the backlog went wrong by one.
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { frameChecksum } from '../../src/journal/frame.js';
import { segmentPath } from '../../src/journal/journalPaths.js';
import { JournalTail } from '../../src/journal/JournalTail.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { testJournalWriter } from '../helpers/testJournalWriter.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

/** A journal read by no RecentEnds (every END comes back from disk), and a tracer writing into it. */
function journalAndTracer(maxSegmentBytes: number) {
  const writer = testJournalWriter(tempDir(), maxSegmentBytes, 0);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'end-accounting' }),
    spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  return { writer, tail: new JournalTail(writer), tracer: provider.getTracer('accounting') };
}

describe.each(JOURNAL_IO_PATHS)('END accounting writing with %s', (io) => {
  useJournalIo(io);
  test('large records that force a rotation before their write: no END counted lost, backlog 0', () => {
    const { writer, tail, tracer } = journalAndTracer(16 * 1024);
    let ended = 0;
    for (let i = 0; i < 400; i++) {
      const span = tracer.startSpan(`s${i}`);
      // Every seventh END is larger than the writer's pending buffer: written on its own, after a rotation when it does not fit.
      if (i % 7 === 3) span.setAttribute('large', 'x'.repeat(100 * 1024 + i));
      span.end();
      ended += 1;
      if (i % 11 === 0) {
        for (let batch = tail.nextBatch(5); batch; batch = tail.nextBatch(5)) tail.committed(batch);
      }
    }
    for (let batch = tail.nextBatch(50); batch; batch = tail.nextBatch(50)) tail.committed(batch);
    expect(writer.currentSegment).toBeGreaterThan(10);
    expect(tail.recordsLost).toBe(0);
    expect(tail.endsCommitted).toBe(ended);
    expect(tail.backlog).toBe(0);
    writer.close({ removeIfDone: true });
  });

  test('an END whose checksum holds but whose JSON does not parse: counted lost once, the rest committed, backlog 0', () => {
    const { writer, tail, tracer } = journalAndTracer(1024 * 1024);
    for (let i = 0; i < 10; i++) tracer.startSpan(`s${i}`).end();
    // Break the third END's JSON and give its frame a checksum that holds again: a writer's bug, not damage.
    const path = segmentPath(writer.writerDir, 1);
    const bytes = readFileSync(path);
    const end = readSegment(bytes).records.filter((record) => record.type === RecordType.SpanEnd)[2];
    bytes[end.offset + 9] = 'x'.charCodeAt(0);
    bytes.writeUInt32LE(frameChecksum(bytes, end.offset + 8, end.end - end.offset - 9), end.offset + 4);
    const fd = openSync(path, 'r+');
    writeSync(fd, bytes, end.offset, 9 + 1, end.offset);
    closeSync(fd);
    const batch = tail.nextBatch(50)!;
    expect(batch.spanCount).toBe(10);
    expect(batch.spansInto([]).map((span) => span.name)).toEqual(['s0', 's1', 's3', 's4', 's5', 's6', 's7', 's8', 's9']);
    tail.committed(batch);
    expect(tail.recordsLost).toBe(1);
    expect(tail.endsCommitted).toBe(9);
    expect(tail.settled).toBe(writer.exportRecordsWritten);
    expect(tail.backlog).toBe(0);
    writer.close({ removeIfDone: true });
  });
});
