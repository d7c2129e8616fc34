// An application that closes descriptors it did not open (a sweep before exec, a bug) can
// close a segment's, and its next file then gets the number. The writer notices within a
// second (maintain) and starts a new segment; it must not close, truncate, sync or touch
// that number on its way out: it is the application's file, or socket, by then. Before,
// the repair closed it (the review saw pg fail with `write EBADF`).
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, read, writeFileSync, writeSync, readdirSync, readFileSync, readlinkSync, statSync, utimesSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { segmentPath, WRITER_LOCK_FILE } from '../../src/journal/journalPaths.js';
import { segmentJobsOnPool } from '../../src/journal/segmentFile/MmapSegmentFile.js';
import { openSegmentFile } from '../../src/journal/segmentFile/openSegmentFile.js';
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
      // The segment's descriptor was swept, so the open span's START is written again into the new segment: a crash now still gives its crash record.
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

test('a lock descriptor the application closed just before the writer closes: the close leaves the number alone', () => {
  const writer = newWriter(join(tempDir(), 'journal'));
  const lockFd = descriptorOf(join(writer.writerDir, WRITER_LOCK_FILE));
  expect(lockFd).toBeDefined();
  closeSync(lockFd!);
  const applicationFile = join(tempDir(), 'the application file');
  const reused = openSync(applicationFile, 'w');
  try {
    expect(reused).toBe(lockFd);
    writer.close({ removeIfDone: true }); // releases the lock: before, it closed the number
    expect(fstatSync(reused).ino).toBe(statSync(applicationFile).ino);
  } finally {
    closeSync(reused);
  }
});

test('a mapped segment whose descriptor the application closes while its release waits for the thread pool: the number is neither cut nor closed', async (context) => {
  // The jobs of the tests before it done first: a pool seen behind (MAX_JOBS_ON_POOL)
  // releases on the spot, and this segment's release would not wait.
  await expect.poll(() => segmentJobsOnPool()).toBe(0);
  const path = join(tempDir(), 'segment');
  const segment = openSegmentFile(path, { preallocateBytes: 64 * 1024 });
  if (segment.kind !== 'mmap') return context.skip();
  segment.appendFrame(RecordType.Heartbeat, '{"ms":1}');
  const segmentFd = descriptorOf(path);
  // Every thread of the pool waits in read(2) on an empty FIFO: the release job (unmap,
  // cut, sync) queues behind them, as behind a slow disk. The FIFOs are opened first
  // (read-write: no wait), so the numbers the sweep frees and reuses are settled.
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: threads }, (_, i) => join(tempDir(), `fifo-${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  const fifoFds = fifos.map((fifo) => openSync(fifo, 'r+'));
  const reads = fifoFds.map((fd) => new Promise<void>((resolve, reject) => read(fd, Buffer.alloc(1), 0, 1, null, (error) => (error ? reject(error) : resolve()))));
  segment.close();
  closeSync(segmentFd!);
  const applicationFile = join(tempDir(), 'the application file');
  // The lowest free number comes back first: files are opened until it is the segment's.
  writeFileSync(applicationFile, '');
  const held: number[] = [];
  let reused = openSync(applicationFile, 'r+');
  while (reused < segmentFd! && held.length < 64) {
    held.push(reused);
    reused = openSync(applicationFile, 'r+');
  }
  try {
    expect(reused).toBe(segmentFd);
    for (const fd of fifoFds) writeSync(fd, 'x');
    await Promise.all(reads);
    // The release job, queued before these, has run once they have (the pool takes jobs in order).
    await Promise.all(Array.from({ length: threads }, () => access(applicationFile)));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fstatSync(reused).ino).toBe(statSync(applicationFile).ino);
    expect(statSync(applicationFile).size).toBe(0);
  } finally {
    for (const fd of [reused, ...held, ...fifoFds]) closeSync(fd);
  }
});
