// A recovery whose signal aborts (the processor's shutdown deadline, the CLI's SIGINT)
// stops within one chunk of reading, wherever it is: also in its first pass over the dead
// journal, which reads every segment before anything is exported. It gives the journal
// back, whole, for the next start. Measured by the bytes this process read (/proc/self/io
// rchar), not by time.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

/** Bytes this process has read through read(2) and the like, page cache included. */
function bytesRead(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

test('an aborted recovery stops reading within a chunk, in its first pass too, and gives the journal back whole', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 12_000, { padding: 2000, openEvery: 10 });
  const segments = segmentNames(dead.writerDir);
  expect(dead.bytes).toBeGreaterThan(40 * 1024 * 1024);

  const controller = new AbortController();
  const exporter = new CollectingExporter();
  const before = bytesRead();
  const recovering = recoverJournals({ journalDir, exporter, signal: controller.signal });
  // Aborted as soon as the journal is claimed: its first pass has read a chunk or two.
  while (!readdirSync(journalDir)[0]!.includes('.recovering-')) await new Promise((resolve) => setImmediate(resolve));
  controller.abort();
  const report = await recovering;
  const read = bytesRead() - before;

  expect(report).toMatchObject({ journals: 0, spansEnded: 0, spansCrashed: 0 });
  expect(report.failures).toEqual([{ dir: dead.writerDir, error: expect.stringMatching(/stopped/) }]);
  expect(exporter.spans).toEqual([]);
  expect(readdirSync(journalDir)).toEqual([basename(dead.writerDir)]);
  expect(segmentNames(dead.writerDir)).toEqual(segments);
  expect(read).toBeLessThan(dead.bytes / 4);

  // The next recovery takes it whole.
  const again = await recoverJournals({ journalDir, exporter });
  expect(again).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
});
