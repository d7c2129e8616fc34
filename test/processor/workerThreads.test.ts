// A worker thread with its own provider writes a journal of its own, beside the main
// thread's, and recovery in the same process treats both as alive.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import type { SegmentHeader } from '../../src/journal/recordTypes.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

const workerScript = join(import.meta.dirname, '../fixtures/journalingWorker.mjs');

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
      const first = readdirSync(join(journalDir, dir))[0];
      return readSegment(readFileSync(join(journalDir, dir, first))).records[0].payload as SegmentHeader;
    });
    expect(new Set(headers.map((h) => h.pid))).toEqual(new Set([process.pid]));
    expect(headers.map((h) => h.threadId).sort()).toEqual([0, worker.threadId].sort());

    const report = await recoverJournals({ journalDir, exporter: new CollectingExporter() });
    expect(report).toMatchObject({ journals: 0, liveJournals: 2 });
  } finally {
    await worker.terminate();
    await provider.shutdown();
  }
});
