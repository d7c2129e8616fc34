// The journal deletes committed segments, and unmaps closed ones, on the thread pool. An
// application that keeps the pool busy (crypto, zlib, file reads) makes those wait. A
// segment counted gone once its deletion was queued let the journal grow to four times
// maxJournalBytes behind a busy pool, and the application's own writes failed for a full
// disk (an attack). Here the pool's four threads are held by reads of a FIFO (no CPU
// spent), while spans are journaled, exported and committed: what the journal takes on
// disk stays within its cap and its documented preallocation.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, read, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const POOL_THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

/** Bytes allocated on disk under `dir`, every file of every writer. */
function allocatedUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).blocks * 512;
  }
  return total;
}

/** Holds every thread of the pool in a read of a FIFO until `release()`. */
function holdThreadPool(dir: string): { release: () => void } {
  const fifo = join(dir, 'pool.fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = openSync(fifo, 'r+');
  let done = 0;
  for (let i = 0; i < POOL_THREADS; i++) read(fd, Buffer.alloc(1), 0, 1, null, () => void (done += 1));
  return {
    release: () => {
      writeSync(fd, Buffer.alloc(POOL_THREADS));
      const close = () => (done === POOL_THREADS ? closeSync(fd) : setTimeout(close, 5));
      close();
    },
  };
}

test.each([
  ['mmap', 'process'],
  ['write', 'process'],
  ['mmap', 'host'],
] as const)('behind a thread pool the application keeps busy, the journal stays within maxJournalBytes on disk (%s path, durability %s)', async (path, durability) => {
  const before = process.env.OTEL_BLACKBOX_JOURNAL_IO;
  if (path === 'write') process.env.OTEL_BLACKBOX_JOURNAL_IO = 'write';
  const dir = tempDir();
  const journalDir = join(dir, 'journal');
  const maxJournalBytes = 256 * 1024;
  const exporter = new CollectingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, durability, maxJournalBytes, maxSegmentBytes: 16 * 1024, scheduledDelayMillis: 1 });
  const tracer = providerWith(processor, 'busy-pool').getTracer('t');
  const pool = holdThreadPool(dir);
  let mostOnDisk = 0;
  try {
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 100; i++) tracer.startSpan(`op ${round}.${i}`, { attributes: { pad: 'x'.repeat(200) } }).end();
      for (let i = 0; i < 5; i++) await turn();
      mostOnDisk = Math.max(mostOnDisk, allocatedUnder(journalDir));
    }
  } finally {
    pool.release();
    if (before === undefined) delete process.env.OTEL_BLACKBOX_JOURNAL_IO;
    else process.env.OTEL_BLACKBOX_JOURNAL_IO = before;
  }
  await processor.shutdown();
  // The records, capped (each file rounded up to the disk's 4 KiB blocks), and the room
  // preallocated on the mapped path: the live segment and the spare, and up to four closed
  // ones whose jobs were queued before the pool was seen to be behind (MAX_JOBS_ON_POOL).
  // Before: 42 MB mapped and 10 MB on write(2), growing with every span.
  const segment = 16 * 1024 + 64 * 1024 + 4096;
  expect(mostOnDisk).toBeLessThanOrEqual(maxJournalBytes + 20 * 4096 + 6 * segment);
  // Nothing was lost: what the journal could not take went through the memory queue.
  expect(processor.stats().spansDropped).toBe(0);
  expect(new Set(exporter.spanIds()).size).toBe(10_000);
});
