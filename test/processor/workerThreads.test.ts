// A worker thread with its own provider writes a journal of its own, beside the main
// thread's, and recovery in the same process treats both as alive while they run. A worker
// thread that ended (terminated, or returned without shutting its provider down) is dead
// though its process runs: its journal, and a journal it was recovering, are recovered by
// the process's other threads, without waiting for the process to exit, and leaves none of
// its segments mapped in the process.
import { closeSync, fstatSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import type { SegmentHeader } from '../../src/journal/recordTypes.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';
import { descriptorsUnder, segmentNames } from '../helpers/journalFiles.js';
import { expectedJournalIo } from '../helpers/journalIo.js';

const tempDir = useTempDirs();

const workerScript = join(import.meta.dirname, '../fixtures/journalingWorker.mjs');
const recoveringWorkerScript = join(import.meta.dirname, '../fixtures/recoveringWorker.mjs');
const rotatingWorkerScript = join(import.meta.dirname, '../fixtures/rotatingWorker.mjs');

function nextMessage(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
}

test('a worker thread journals beside the main thread, and its live journal is left alone', async () => {
  const journalDir = join(tempDir(), 'journal');
  const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir, recover: false });
  const provider = providerWith(processor);
  provider.getTracer('main').startSpan('open in the main thread');
  const worker = new Worker(workerScript, { workerData: { journalDir } });
  try {
    await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    const writers = readdirSync(journalDir);
    expect(writers).toHaveLength(2);
    const headers = writers.map((dir) => {
      const first = segmentNames(join(journalDir, dir))[0];
      return readSegment(readFileSync(join(journalDir, dir, first))).records[0].payload as SegmentHeader;
    });
    expect(new Set(headers.map((h) => h.pid))).toEqual(new Set([process.pid]));
    expect(headers.map((h) => h.threadId).sort()).toEqual([0, worker.threadId].sort());
    // The worker's header names its operating-system thread, by which recovery knows when it ended.
    expect(headers.find((h) => h.threadId === 0)!.osThread).toBeUndefined();
    expect(headers.find((h) => h.threadId === worker.threadId)!.osThread).toEqual({ tid: expect.any(Number), startTicks: expect.stringMatching(/^\d+$/) });

    const report = await recoverJournals({ journalDir, exporter: new CollectingExporter() });
    expect(report).toMatchObject({ journals: 0, liveJournals: 2 });
  } finally {
    await worker.terminate();
    await provider.shutdown();
  }
});

test('a terminated worker thread is dead: its journal is recovered while its process runs', async () => {
  const journalDir = join(tempDir(), 'journal');
  const worker = new Worker(workerScript, { workerData: { journalDir } });
  await nextMessage(worker);
  await worker.terminate();

  const exporter = new CollectingExporter();
  const recovered: string[] = [];
  const report = await recoverJournals({ journalDir, exporter, onJournal: ({ outcome }) => recovered.push(outcome) });
  expect(report).toMatchObject({ journals: 1, spansCrashed: 1, liveJournals: 0, failures: [] });
  expect(exporter.spans.map((span) => span.name)).toEqual(['open in the worker']);
  expect(readdirSync(journalDir)).toEqual([]);
});

test('a worker thread terminated mid-recovery leaves a claim that the rest of its process takes over', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 40, { openEvery: 10 });
  const worker = new Worker(recoveringWorkerScript, { workerData: { journalDir } });
  await nextMessage(worker);
  // Its claim is made: the journal was renamed to name the worker's thread as its claimer.
  expect(readdirSync(journalDir)).toEqual([expect.stringContaining('.recovering-')]);
  await worker.terminate();

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, liveJournals: 0, failures: [] });
  expect(readdirSync(journalDir)).toEqual([]);
});

/** Lines of /proc/self/maps that map a file under `dir`. */
function mappingsUnder(dir: string): string[] {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes(dir));
}

test('a worker thread that ended leaves none of its journal segments mapped in the process', async () => {
  const journalDir = join(tempDir(), 'journal');
  for (let i = 0; i < 3; i++) {
    const worker = new Worker(workerScript, { workerData: { journalDir } });
    const { writePath } = (await nextMessage(worker)) as { writePath: string };
    // On the mapped path the live segment (and its spare, once made) is mapped while the worker runs.
    if (writePath === 'mmap') expect(mappingsUnder(journalDir).length).toBeGreaterThan(0);
    await worker.terminate();
  }
  // Each terminated worker's segments stayed mapped until the process exited: address
  // space, page cache counted in RSS, and the disk blocks of files recovery deleted.
  expect(mappingsUnder(journalDir)).toEqual([]);

  const report = await recoverJournals({ journalDir, exporter: new CollectingExporter() });
  expect(report).toMatchObject({ journals: 3, spansCrashed: 3, liveJournals: 0, failures: [] });
});

test("a worker thread's end closes none of the process's other files", async () => {
  // Node closes, when a worker ends, every descriptor the worker opened with fs and did not
  // close with fs. A segment descriptor closed natively stayed on that list: once the
  // process reused its number, the worker's end closed someone else's file.
  const journalDir = join(tempDir(), 'journal');
  const worker = new Worker(rotatingWorkerScript, { workerData: { journalDir } });
  const { writePath, segmentsWritten } = (await nextMessage(worker)) as { writePath: string; segmentsWritten: number };
  // The case is the mapped path's (its segments are released by the addon), after rotations;
  // where the addon does not load, the run says so (expectedJournalIo).
  expect(writePath).toBe(expectedJournalIo(process.env.OTEL_BLACKBOX_JOURNAL_IO === 'write' ? 'write' : 'mmap'));
  expect(segmentsWritten).toBeGreaterThan(1);
  const path = join(tempDir(), 'main-thread-file');
  writeFileSync(path, 'the application\'s own file');
  // The lowest free numbers are taken first: these reuse any the worker let go.
  const fds = Array.from({ length: 32 }, () => openSync(path, 'r'));
  try {
    await worker.terminate();
    const closedUnderUs = fds.filter((fd) => {
      try {
        fstatSync(fd);
        return false;
      } catch {
        return true;
      }
    });
    expect(closedUnderUs).toEqual([]);
    // And the worker's own are all closed: none of its segments stays open in the process.
    expect(descriptorsUnder(journalDir)).toEqual([]);
  } finally {
    for (const fd of fds) {
      try {
        closeSync(fd);
      } catch {
        // Already closed: the failure above says so.
      }
    }
  }
});
