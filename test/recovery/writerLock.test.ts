// A writer holds a flock on its directory's writer.lock while it lives, and recovery asks
// it before the pid: a pid names another process in another pid namespace (the containers
// of one pod, all pid 1, sharing a hostname and a volume), so the pid alone would take a
// live writer for dead, or a dead one for alive. Both directions, with a real process; and
// the same for a recovery's claim, which holds a lock of its own.
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { WRITER_LOCK_FILE } from '../../src/journal/journalPaths.js';
import { readSegment } from '../../src/journal/readSegment.js';
import type { SegmentHeader } from '../../src/journal/recordTypes.js';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity, readProcStartTicks } from '../../src/journal/writerIdentity.js';
import { holdClaimLock, holdWriterLock, probeWriterLock, type HeldLock } from '../../src/journal/livenessLocks.js';
import { claimedDirName, claimLockFileName } from '../../src/journal/journalPaths.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { runFixture } from '../helpers/childProcess.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const namesake = join(import.meta.dirname, '../fixtures/namesakeWriter.mjs');
/** Above Linux's pid_max: no process here has it. */
const NO_SUCH_PID = 2 ** 22 + 11;

function headerOf(writerDir: string): SegmentHeader {
  const first = readdirSync(writerDir).filter((name) => name.endsWith('.seg')).sort()[0]!;
  return readSegment(readFileSync(join(writerDir, first))).records[0]!.payload as SegmentHeader;
}

test('a live writer whose pid is not a process here is alive while it holds its lock', async () => {
  const journalDir = join(tempDir(), 'journal');
  const identity = { ...currentWriterIdentity(), pid: NO_SUCH_PID, procStartTicks: '1', writerId: `w${'0'.repeat(9)}-${NO_SUCH_PID}-0-${'ef'.repeat(8)}` };
  const writer = new JournalWriter({
    journalDir, identity, durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
  });
  providerWith({ onStart: (span) => void writer.appendStart(span), onEnd: () => {}, forceFlush: async () => {}, shutdown: async () => {} })
    .getTracer('t')
    .startSpan('open in a writer of another pid namespace');
  const writerDir = join(journalDir, identity.writerId);
  expect(headerOf(writerDir)).toMatchObject({ pid: NO_SUCH_PID, writerLock: true });
  expect(readdirSync(writerDir)).toContain(WRITER_LOCK_FILE);

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 0, liveJournals: 1 });
  expect(exporter.spans).toEqual([]);
  expect(readdirSync(journalDir)).toEqual([identity.writerId]);
  writer.close({ removeIfDone: false });
});

test('a live writer of another pid namespace whose lock file a cleaner removed is alive while it is not silent, and locks again', async () => {
  // Before: a header saying the writer holds a lock, with no lock file to ask, fell back to
  // the pid, and pid 1 here is not the pid 1 of another container: the live journal was
  // taken. The writer took its lock again only when its journal broke.
  const journalDir = join(tempDir(), 'journal');
  const identity = {
    ...currentWriterIdentity(),
    pid: 1,
    procStartTicks: '1',
    pidNamespace: 'pid:[1]',
    writerId: `w${'0'.repeat(9)}-1-0-${'ab'.repeat(8)}`,
  };
  const writer = new JournalWriter({
    journalDir, identity, durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
  });
  providerWith({ onStart: (span) => void writer.appendStart(span), onEnd: () => {}, forceFlush: async () => {}, shutdown: async () => {} })
    .getTracer('t')
    .startSpan('open in pid 1 of another container');
  const writerDir = join(journalDir, identity.writerId);
  expect(headerOf(writerDir)).toMatchObject({ pid: 1, pidNamespace: 'pid:[1]', writerLock: true });
  rmSync(join(writerDir, WRITER_LOCK_FILE));

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 0, liveJournals: 1 });
  expect(exporter.spans).toEqual([]);

  expect(writer.maintain()).toBe(true);
  expect(probeWriterLock(writerDir)).toBe('held');
  writer.close({ removeIfDone: false });
  expect(probeWriterLock(writerDir)).toBe('free');
});

test('a live writer whose header cannot be read is alive while it holds its lock, however long it has been silent', async () => {
  // Before: the lock was asked only when the header said the writer holds one; a header
  // damaged by one byte left silence alone to judge, and the live journal was taken.
  const journalDir = join(tempDir(), 'journal');
  const identity = { ...currentWriterIdentity(), pid: NO_SUCH_PID, procStartTicks: '1', writerId: `w${'0'.repeat(9)}-${NO_SUCH_PID}-0-${'cd'.repeat(8)}` };
  const writer = new JournalWriter({
    journalDir, identity, durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
  });
  providerWith({ onStart: (span) => void writer.appendStart(span), onEnd: () => {}, forceFlush: async () => {}, shutdown: async () => {} })
    .getTracer('t')
    .startSpan('open in a writer whose header is damaged');
  const writerDir = join(journalDir, identity.writerId);
  const segment = join(writerDir, readdirSync(writerDir).filter((name) => name.endsWith('.seg')).sort()[0]!);
  const bytes = readFileSync(segment);
  const header = readSegment(bytes).records[0]!;
  bytes[header.offset + 12] ^= 0x01;
  writeFileSync(segment, bytes);
  expect(readSegment(readFileSync(segment)).records.some((record) => record.offset === header.offset)).toBe(false);

  const exporter = new CollectingExporter();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const report = await recoverJournals({ journalDir, exporter, staleAfterMillis: 1 });
  expect(report).toMatchObject({ journals: 0, liveJournals: 1 });
  expect(exporter.spans).toEqual([]);
  expect(readdirSync(journalDir)).toEqual([identity.writerId]);
  writer.close({ removeIfDone: false });
});

test('a killed writer whose pid names a live process here is dead: nobody holds its lock', async () => {
  const journalDir = join(tempDir(), 'journal');
  // The header names this very process, as a pid 1 of another namespace would name ours.
  const child = runFixture(namesake, { JOURNAL_DIR: journalDir, PID: String(process.pid), START_TICKS: readProcStartTicks(process.pid) ?? '' });
  const { writerId } = await child.ready;
  expect(headerOf(join(journalDir, writerId!))).toMatchObject({ pid: process.pid, writerLock: true });

  const whileAlive = await recoverJournals({ journalDir, exporter: new CollectingExporter() });
  expect(whileAlive).toMatchObject({ journals: 0, liveJournals: 1 });

  child.child.kill('SIGKILL');
  await child.exited;
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 1, spansCrashed: 1, liveJournals: 0, failures: [] });
  expect(exporter.spans.map((span) => span.name)).toEqual(['open in the namesake']);
});

test('the lock itself: held, then free once released (twice is harmless), then free to be taken again', () => {
  const dir = tempDir();
  const lock = holdWriterLock(dir) as HeldLock;
  expect(lock).toBeDefined();
  expect(probeWriterLock(dir)).toBe('held');
  lock.release();
  lock.release();
  expect(probeWriterLock(dir)).toBe('free');
  // Only the lock file is left: no temporary file of the hold.
  expect(readdirSync(dir)).toEqual([WRITER_LOCK_FILE]);
  const again = holdWriterLock(dir) as HeldLock;
  expect(probeWriterLock(dir)).toBe('held');
  again.release();
  expect(probeWriterLock(join(dir, 'nowhere'))).toBeUndefined();
});

test('a recovery whose claim names a pid that is not a process here is alive while it holds its claim lock, and taken over once it does not', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 30, { openEvery: 10 });
  // A claimer in another pid namespace: its claim names a pid this process cannot see.
  const claimer = { ...currentWriterIdentity(), pid: NO_SUCH_PID, procStartTicks: '1', osThread: undefined, writerId: `w${'0'.repeat(9)}-${NO_SUCH_PID}-0-${'cd'.repeat(8)}` };
  // A free lock file of an earlier attempt under the same name: the new lock is renamed over it.
  writeFileSync(join(dead.writerDir, claimLockFileName(claimer.writerId)), '');
  const lock = holdClaimLock(dead.writerDir, claimer.writerId) as HeldLock;
  expect(typeof lock.release).toBe('function');
  const claimed = join(journalDir, claimedDirName(basename(dead.writerDir), claimer));
  renameSync(dead.writerDir, claimed);

  const whileHeld = await recoverJournals({ journalDir, exporter: new CollectingExporter() });
  expect(whileHeld).toMatchObject({ journals: 0, liveJournals: 1 });
  expect(readdirSync(journalDir)).toEqual([basename(claimed)]);

  lock.release();
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
});

test('a lock file that is not a regular file (a FIFO planted under its name) is not asked, and does not block', () => {
  const dir = tempDir();
  execFileSync('mkfifo', [join(dir, WRITER_LOCK_FILE)]);
  // Opening a FIFO for reading blocks until a writer comes: the probe must not.
  expect(probeWriterLock(dir)).toBeUndefined();
  // A lock is made under a temporary name and renamed over whatever has the name.
  const lock = holdWriterLock(dir) as HeldLock;
  expect(probeWriterLock(dir)).toBe('held');
  lock.release();
});

test('a processor shut down with a span still open lets go of its lock: its journal is recovered while the process runs on', async () => {
  // Before: the lock was held until the process exited, so the crash record of a span left
  // open at shutdown waited for the end of a long-running process (an SDK set up again).
  // The exporter fails: had it taken the span's crash record at shutdown, the journal would be gone (openSpansAtShutdown.test.ts).
  const journalDir = join(tempDir(), 'journal');
  const down = new CollectingExporter();
  down.failing = true;
  const processor = new JournalSpanProcessor({ exporter: down, journalDir, recover: false, flushTimeoutMillis: 300 });
  const provider = providerWith(processor, 'shut-down-early');
  provider.getTracer('t').startSpan('left open at shutdown');
  await provider.shutdown();

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });

  expect(report).toMatchObject({ journals: 1, spansCrashed: 1, liveJournals: 0 });
  expect(exporter.spans.map((span) => [span.name, span.status.message])).toEqual([
    ['left open at shutdown', 'the span was still open when the span processor shut down; an end after that was not recorded'],
  ]);
});

test('a writer whose lock descriptor the application closed takes its lock again, and closes nothing that is no longer its own', async () => {
  // An application that sweeps descriptors it did not open (before exec, say) released the
  // writer's lock: the next process to start on the journalDir recovered the live journal
  // (false crash records). The writer now checks its lock's descriptor with its path.
  const journalDir = join(tempDir(), 'journal');
  const writer = new JournalWriter({
    journalDir, identity: currentWriterIdentity(), durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
  });
  try {
    const lockPath = join(writer.writerDir, WRITER_LOCK_FILE);
    const lockFd = readdirSync('/proc/self/fd').map(Number).find((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === lockPath;
      } catch {
        return false;
      }
    });
    expect(lockFd).toBeDefined();
    closeSync(lockFd!);
    expect(probeWriterLock(writer.writerDir)).toBe('free');
    // The number comes back to the application's next file.
    const other = join(tempDir(), 'the application file');
    const reused = openSync(other, 'w');
    try {
      expect(writer.maintain()).toBe(true);
      expect(probeWriterLock(writer.writerDir)).toBe('held');
      expect(fstatSync(reused).ino).toBe(statSync(other).ino);
    } finally {
      closeSync(reused);
    }
  } finally {
    writer.close({ removeIfDone: false });
  }
});
