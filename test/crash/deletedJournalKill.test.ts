// A journal directory removed under a running process (a tmp cleaner, an operator) while
// its database is unreachable: the writer notices and repairs, but the ENDs written into
// the removed live segment, before the removal and until the writer noticed it, were on
// disk only in an unlinked file. SIGKILLed before any of them is committed, the process
// must still leave every span it started to recovery: ended ones as ended, open ones as
// crash records, once each. Before the repair read them back, on both write paths: 'one
// segment' kept 103 rows of 703 spans (600 ended spans lost), 'rotating' 490 of 513, 387
// of them crash records of spans that had ended; and with only the live segment read back,
// 'closed before' 303 of 423.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce, killed, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/deletedJournalService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'deleted_journal_kill', (ready) => (schema = ready));

describe.each(JOURNAL_IO_PATHS)('a journal directory removed under a process writing with %s, then SIGKILL', (io) => {
  useJournalIo(io);

  // 'one segment': everything uncommitted is in the live segment the removal unlinked, all
  // written in one turn. 'rotating': requests in turns of their own, and the segment
  // removed fills up and is due to rotate before the writer's look of every second.
  // 'closed before': ENDs in segments closed before the removal too (held for reading).
  test.each([
    ['one segment', {}],
    ['rotating', { MAX_SEGMENT_BYTES: String(16 * 1024), BEFORE: '5', BETWEEN: '200', YIELD_EVERY: '5' }],
    ['closed before', { MAX_SEGMENT_BYTES: String(16 * 1024), BEFORE: '60', BETWEEN: '100', YIELD_EVERY: '5' }],
  ])('every span it started is recovered once, ended ones as ended (%s)', async (_name, env) => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, {
      // Nothing is committed live: what reaches the database comes from the journal.
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable',
      SCHEMA: schema,
      JOURNAL_DIR: journalDir,
      LEDGER: ledger,
      ...env,
    });
    const ready = await child.ready;
    expect(ready.writePath).toBe(expectedJournalIo(io));
    await killed(child);

    const report = await recoverInto(db, schema, journalDir, true);
    expect(report.failures).toEqual([]);
    await expectEveryStartedSpanOnce(db, schema, ledger);
  });
});
