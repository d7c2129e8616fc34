// An application that closes descriptors it did not open (a sweep before exec, a bug) can
// close a segment's, and its next file then gets the number. The writer notices within a
// second (maintain) and starts a new segment; it must not close, truncate, sync or touch
// that number on its way out: it is the application's file, or socket, by then. Before,
// the repair closed it (the review saw pg fail with `write EBADF`).
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { segmentPath } from '../../src/journal/journalPaths.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { readSegmentFile } from '../../src/journal/SegmentFileReader.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const tracer = new TracerProvider().getTracer('swept');

function descriptorOf(path: string): number | undefined {
  return readdirSync('/proc/self/fd').map(Number).find((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  });
}

function newWriter(journalDir: string): JournalWriter {
  return new JournalWriter({
    journalDir, identity: currentWriterIdentity(), durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
  });
}

describe.each(JOURNAL_IO_PATHS)('a segment descriptor the application closed (%s)', (io) => {
  useJournalIo(io);

  test('the writer starts a new segment carrying its open spans, and leaves the number alone: now the application file', () => {
    const journalDir = join(tempDir(), 'journal');
    const writer = newWriter(journalDir);
    try {
      expect(writer.writePath).toBe(expectedJournalIo(io));
      const open = tracer.startSpan('still open') as unknown as ReadableSpan;
      expect(writer.appendStart(open)).not.toBe('failed');
      const first = writer.currentSegment;
      const segmentFd = descriptorOf(segmentPath(writer.writerDir, first));
      expect(segmentFd).toBeDefined();
      closeSync(segmentFd!);
      const applicationFile = join(tempDir(), 'the application file');
      const reused = openSync(applicationFile, 'w');
      try {
        expect(reused).toBe(segmentFd);
        const past = new Date(Date.UTC(2020, 0, 1));
        utimesSync(applicationFile, past, past);

        // The mapped path sets its segment's time at each heartbeat (futimes). (On write(2),
        // a record written before maintain() notices goes wherever the number points: the
        // price of a sweep a check per record would make every span pay.)
        if (writer.writePath === 'mmap') writer.appendHeartbeat();
        expect(writer.maintain()).toBe(true);
        expect(writer.currentSegment).toBeGreaterThan(first);
        writer.appendHeartbeat();
        writer.close({ removeIfDone: false });

        // Still open, still the application's file: not closed, cut, written or touched.
        expect(fstatSync(reused).ino).toBe(statSync(applicationFile).ino);
        expect(statSync(applicationFile).size).toBe(0);
        expect(statSync(applicationFile).mtimeMs).toBe(past.getTime());
      } finally {
        closeSync(reused);
      }
      // The open span's START is in the new segment's head: a crash now still gives its crash record.
      const records = readSegment(readFileSync(segmentPath(writer.writerDir, writer.currentSegment))).records;
      expect(records.some((record) => record.type === RecordType.SpanStart && (record.payload as { s?: string }).s === open.spanContext().spanId)).toBe(true);
    } finally {
      writer.close({ removeIfDone: false });
    }
  });
});

test('a segment being read across turns (recovery) whose descriptor the application closed: the reader stops, and leaves the number alone', async () => {
  const journalDir = join(tempDir(), 'journal');
  const writer = newWriter(journalDir);
  for (let i = 0; i < 50; i++) writer.appendStart(tracer.startSpan(`span ${i}`) as unknown as ReadableSpan);
  const path = segmentPath(writer.writerDir, writer.currentSegment);
  writer.close({ removeIfDone: false });

  const chunks = readSegmentFile(path, { chunkBytes: 1024 });
  expect((await chunks.next()).done).toBe(false);
  const readerFd = descriptorOf(path);
  expect(readerFd).toBeDefined();
  closeSync(readerFd!);
  const applicationFile = join(tempDir(), 'the application file');
  const reused = openSync(applicationFile, 'w');
  try {
    expect(reused).toBe(readerFd);
    await expect(chunks.next()).rejects.toMatchObject({ code: 'EDESCRIPTORLOST' });
    expect(fstatSync(reused).ino).toBe(statSync(applicationFile).ino);
  } finally {
    closeSync(reused);
  }
});
