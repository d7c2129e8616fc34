// A span that starts first and runs while thousands of others are exported and their
// segments deleted: its START is carried forward out of each segment before that segment
// goes. The process is SIGKILLed with it still open; recovery must find its START in what
// is left and commit it as a crash record, with every other span once.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { segmentFileName } from '../../src/journal/journalPaths.js';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce } from '../helpers/crashAssertions.js';
import { TestDatabase } from '../helpers/database.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('carried_start_kill');
});
afterAll(async () => {
  await db.close();
});

const REQUESTS = 1500;

describe.each(JOURNAL_IO_PATHS)('a SIGKILLed child whose first span outlived its segment, writing with %s', (io) => {
  useJournalIo(io);

  test('the span is recovered as a crash record from its carried START; every other span once', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, {
      DATABASE_URL: db.url,
      SCHEMA: schema,
      JOURNAL_DIR: journalDir,
      LEDGER: ledger,
      CRASH_MODE: 'sigkill',
      OPEN_FIRST: '1',
      ENDED: String(REQUESTS),
      // Exported and committed before the in-flight request starts.
      FLUSH_FIRST: '1',
      MAX_SEGMENT_BYTES: String(16 * 1024),
      SERVICE: `carried-${io}`,
    });
    const ready = await child.ready;
    expect(ready.writePath).toBe(expectedJournalIo(io));
    const [writer] = readdirSync(journalDir);
    // The segment the job's START was written into was committed and deleted (unlinked on
    // the thread pool): the START lives on only as a carried copy.
    await expect.poll(() => readdirSync(join(journalDir, writer!)), { timeout: 10_000 }).not.toContain(segmentFileName(1));
    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');

    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const report = await recoverJournals({ journalDir, exporter });
    await exporter.shutdown();
    expect(report.failures).toEqual([]);
    const rows = await expectEveryStartedSpanOnce(db, schema, ledger);
    expect(rows).toHaveLength(REQUESTS * 2 + 5);
    expect(rows.find((row) => row.span_id === ready.job)).toMatchObject({ name: 'nightly export', state: 'crashed' });
  });
});
