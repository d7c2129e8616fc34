// A child writing thousands of spans through each journal write path is SIGKILLed while
// its export cannot reach the database: every START and END it journaled must come back
// from its segments alone, including the live memory-mapped one the kill left with its
// preallocated zero tail, and reach PostgreSQL once. And a child whose first span runs while
// thousands of others are exported and their segments deleted (its START carried forward
// out of each before it goes) is SIGKILLed with that span open: recovery must find the
// START in what is left and commit it as a crash record.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce, expectKilledJournalIntact, killed, killOnceFirstSegmentIsGoneThenRecover, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase } from '../helpers/database.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('mmap_journal_kill');
});
afterAll(async () => {
  await db.close();
});

const REQUESTS = 2000;

describe.each(JOURNAL_IO_PATHS)('a SIGKILLed child writing its journal with %s', (io) => {
  useJournalIo(io);

  test('every START and END it journaled reaches PostgreSQL once, from the journal alone', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, {
      // Nothing is exported live: what reaches the database comes from the journal.
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable',
      SCHEMA: schema,
      JOURNAL_DIR: journalDir,
      LEDGER: ledger,
      CRASH_MODE: 'sigkill',
      ENDED: String(REQUESTS),
      MAX_SEGMENT_BYTES: String(64 * 1024),
      SERVICE: `kill-${io}`,
    });
    const ready = await child.ready;
    expect(ready.writePath).toBe(expectedJournalIo(io));
    await killed(child);

    // The kill left the live mapped segment preallocated: records, then zeros, no damage.
    expectKilledJournalIntact(journalDir, expectedJournalIo(io) === 'mmap');

    const report = await recoverInto(db, schema, journalDir, true);
    expect(report).toMatchObject({ journals: 1, spansEnded: REQUESTS * 2 + 1, spansCrashed: 3, corruptBytes: 0, failures: [] });
    const rows = await expectEveryStartedSpanOnce(db, schema, ledger);
    expect(rows).toHaveLength(REQUESTS * 2 + 4);
  });

  test('a span that outlived its deleted segment is recovered as a crash record from its carried START; every other span once', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const requests = 1500;
    const child = runFixture(fixture, {
      DATABASE_URL: db.url,
      SCHEMA: schema,
      JOURNAL_DIR: journalDir,
      LEDGER: ledger,
      CRASH_MODE: 'sigkill',
      OPEN_FIRST: '1',
      ENDED: String(requests),
      // Exported and committed before the in-flight request starts.
      FLUSH_FIRST: '1',
      MAX_SEGMENT_BYTES: String(16 * 1024),
      SERVICE: `carried-${io}`,
    });
    const ready = await child.ready;
    expect(ready.writePath).toBe(expectedJournalIo(io));
    // The segment the job's START was written into is committed and deleted before the kill.
    const rows = await killOnceFirstSegmentIsGoneThenRecover(db, schema, child, journalDir, ledger);
    expect(rows).toHaveLength(requests * 2 + 5);
    expect(rows.find((row) => row.span_id === ready.job)).toMatchObject({ name: 'nightly export', state: 'crashed' });
  });
});
