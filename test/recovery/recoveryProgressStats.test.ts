// A recovery of a long outage's journal runs for minutes inside the restarted application,
// and longer while the database is down. Before, stats() and the self-metrics said nothing
// of it until the whole journal was done: an operator saw 0 recovered, then everything at
// once. Now each committed batch counts when it commits, and stats() says a recovery runs.
import { join } from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { InvalidOptionError, JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import type { RecoveredBatch } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

/** Takes its first batch at once and holds every later one until `release()`, like a database that stalls. */
class StallingExporter implements SpanExporter {
  readonly batches: ReadableSpan[][] = [];
  private held: (() => void)[] = [];
  private stalled = true;

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.batches.push(spans);
    const succeed = () => done({ code: ExportResultCode.SUCCESS });
    if (this.batches.length === 1 || !this.stalled) setImmediate(succeed);
    else this.held.push(succeed);
  }

  release(): void {
    this.stalled = false;
    for (const succeed of this.held.splice(0)) succeed();
  }

  async shutdown(): Promise<void> {}
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("a recovery's committed batches count in stats() as they commit, not when the journal is done", async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 3000, { openEvery: 10 });
  const exporter = new StallingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir });
  const provider = providerWith(processor, 'recovery-progress');
  try {
    await until(() => exporter.batches.length >= 2, 'a second recovery batch');
    const first = exporter.batches[0]!;
    const firstCrashed = first.filter((span) => span.status.code === 2).length;
    await until(() => processor.stats().spansRecovered > 0, 'the first batch to count');
    // The first batch committed, the others are held: exactly the first is counted.
    expect(processor.stats()).toMatchObject({
      recoveryRunning: true,
      spansRecovered: first.length - firstCrashed,
      crashRecordsWritten: firstCrashed,
    });

    exporter.release();
    await until(() => processor.stats().recoveryRunning === false, 'the recovery to end');
    // Each span counted once: the live counts are not added again at the end.
    expect(processor.stats()).toMatchObject({ spansRecovered: dead.ended, crashRecordsWritten: dead.open });
    expect(exporter.batches.flat()).toHaveLength(3000);
  } finally {
    exporter.release();
    await provider.shutdown();
  }
});

test('onBatch: called as each batch commits; its sums are the report; one that throws does not stop the recovery', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 1200, { openEvery: 10 });
  const batches: RecoveredBatch[] = [];
  const report = await recoverJournals({
    journalDir,
    exporter: new CollectingExporter(),
    onBatch: (committed) => {
      batches.push(committed);
      throw new Error('a progress line that failed (test)');
    },
  });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
  expect(batches.length).toBe(3);
  expect(batches.reduce((sum, batch) => sum + batch.spansEnded, 0)).toBe(dead.ended);
  expect(batches.reduce((sum, batch) => sum + batch.spansCrashed, 0)).toBe(dead.open);
});

test('onBatch and onJournal must be functions (or null, for none)', async () => {
  await expect(recoverJournals({ journalDir: tempDir(), exporter: new CollectingExporter(), onBatch: null as never, onJournal: null as never })).resolves.toMatchObject({ journals: 0 });
  await expect(recoverJournals({ journalDir: tempDir(), exporter: new CollectingExporter(), onBatch: 'progress' as never })).rejects.toThrow(/^Invalid option onBatch/);
  await expect(recoverJournals({ journalDir: tempDir(), exporter: new CollectingExporter(), onJournal: 1 as never })).rejects.toThrow(InvalidOptionError);
});

test('maxAttempts: a positive integer, or Infinity (until signal aborts), and the refusal says both', async () => {
  await expect(recoverJournals({ journalDir: tempDir(), exporter: new CollectingExporter(), maxAttempts: Infinity })).resolves.toMatchObject({ journals: 0 });
  await expect(recoverJournals({ journalDir: tempDir(), exporter: new CollectingExporter(), maxAttempts: 0 })).rejects.toThrow(
    /^Invalid option maxAttempts: expected a positive integer, or Infinity to retry until signal aborts, got 0\.$/,
  );
});

test('a journalDir of white space alone is refused, as OTEL_BLACKBOX_JOURNAL_DIR of it counts as unset', async () => {
  await expect(recoverJournals({ journalDir: ' ', exporter: new CollectingExporter() })).rejects.toThrow(/^Invalid option journalDir: expected a directory path, not only white space/);
});

// A restarted application that recovers a dead journal while the database is down, and
// ends no span of its own meanwhile, had exportFailures at 0: an alert on it said nothing
// while recovery failed batch after batch (said once a minute through diag only).
test("a recovery's failed export attempts count in stats().exportFailures", async () => {
  const journalDir = join(tempDir(), 'journal');
  writeDeadJournal(journalDir, 100);
  const exporter = new CollectingExporter();
  exporter.failing = true;
  const processor = new JournalSpanProcessor({ exporter, journalDir });
  try {
    await until(() => processor.stats().exportFailures >= 2, 'two failed recovery attempts');
    expect(processor.stats()).toMatchObject({ recoveryRunning: true, spansRecovered: 0 });
    exporter.failing = false;
    await until(() => processor.stats().spansRecovered > 0, 'the recovery once the exporter is back');
  } finally {
    await processor.shutdown();
  }
});
