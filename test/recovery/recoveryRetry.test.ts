// Recovery inside the application while the database is down: it keeps its claim and
// retries the batch in hand with backoff, like the export loop, instead of giving the
// journal back after a few attempts and reading it again from the start at the next scan
// (once a minute: a 1.5 s stall and 940 MiB of heap each time for a 453 MiB journal).
// At shutdown it drains like the export loop until flushTimeoutMillis, then stops and gives
// the journal back for a later run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { diag } from '@opentelemetry/api';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { collectDiag } from '../helpers/diagLines.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

/** Fails its first `failures` calls, then keeps what it is given. */
class FlakyExporter extends CollectingExporter {
  constructor(private failures: number) {
    super();
    this.failing = true;
  }

  override export(...args: Parameters<CollectingExporter['export']>): void {
    if (this.failures-- <= 0) this.failing = false;
    super.export(...args);
  }
}

/** Keeps what it is given, each call answering after `delayMillis`. */
class SlowExporter extends CollectingExporter {
  constructor(private readonly delayMillis: number) {
    super();
  }

  override export(...args: Parameters<CollectingExporter['export']>): void {
    setTimeout(() => super.export(...args), this.delayMillis);
  }
}

describe('recovery while the database is down', () => {
  test('says that it could not export once a minute at most, naming the journal, not at each batch in flight', async () => {
    // An operator review: each of the 4 batches in flight said its first failure and every
    // tenth, about 500 lines an hour while the database was away, none naming the journal.
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 400);
    const warnings = collectDiag();
    try {
      const exporter = new FlakyExporter(12);
      const report = await recoverJournals({ journalDir, exporter, maxExportBatchSize: 50, maxAttempts: 50, recoverAnyDestination: true });
      expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open });
      const said = warnings.filter((line) => line.includes('could not export a batch'));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/^otel-blackbox: recovery of .*, the journal of a dead process, could not export a batch; it tries again \(said once a minute at most\): /);
    } finally {
      diag.disable();
    }
  }, 60_000);

  test('retries the same batch past maxAttempts instead of giving the journal back, then recovers every span once', async () => {
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 300);
    // Recovery's default maxAttempts is 5: more failures than that.
    const exporter = new FlakyExporter(8);
    const processor = new JournalSpanProcessor({ exporter, journalDir, maxExportBatchSize: 1000 });
    try {
      await vi.waitFor(() => expect(exporter.spans.length).toBe(dead.ended + dead.open), { timeout: 45_000, interval: 50 });
      // One batch: it was read once and sent again and again, not re-read.
      expect(exporter.calls).toBe(9);
      expect(new Set(exporter.spanIds()).size).toBe(dead.ended + dead.open);
      await vi.waitFor(() => expect(readdirSync(journalDir).filter((name) => name.startsWith(`w${'0'.repeat(9)}`))).toEqual([]), { timeout: 10_000 });
    } finally {
      await processor.shutdown();
    }
  }, 60_000);

  test('a process that shuts down while recovery is under way still recovers the dead journal (it drains until the deadline)', async () => {
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 2000);
    // A slow database: 40 batches of 50 ms, 4 at a time: shutdown comes while recovery is exporting.
    const exporter = new SlowExporter(50);
    const processor = new JournalSpanProcessor({ exporter, journalDir, maxExportBatchSize: 50, flushTimeoutMillis: 20_000 });
    await vi.waitFor(() => expect(exporter.calls).toBeGreaterThan(0), { timeout: 30_000, interval: 5 });
    await processor.shutdown();
    expect(new Set(exporter.spanIds()).size).toBe(dead.ended + dead.open);
    expect(readdirSync(journalDir).filter((name) => name.startsWith(`w${'0'.repeat(9)}`))).toEqual([]);
  }, 60_000);

  test('shutdown stops a recovery that is waiting for the database at its deadline, and gives the journal back', async () => {
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 50);
    const exporter = new FlakyExporter(Number.POSITIVE_INFINITY);
    const processor = new JournalSpanProcessor({ exporter, journalDir, flushTimeoutMillis: 1000 });
    await vi.waitFor(() => expect(exporter.calls).toBeGreaterThan(5), { timeout: 30_000, interval: 50 });
    await processor.shutdown();
    expect(exporter.spans).toHaveLength(0);
    // Back under its writer's own name, whole, for the next process to recover.
    expect(readdirSync(journalDir)).toContain(dead.writerDir.split('/').at(-1));
  }, 60_000);
});
