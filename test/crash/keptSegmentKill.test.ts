// A segment kept for the STARTs of leaked spans outlives the later segments, and with them
// the ENDs of spans that started in it. After a SIGKILL, recovery must give crash records
// to the spans that were open and to no span that ended: before SETTLED records
// (SettledSpans.ts), a span that started there and ended in a deleted segment got one too,
// which stretched its trace to the recovery's guess of the crash.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { segmentFileName } from '../../src/journal/journalPaths.js';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce, killed, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'kept_segment', (ready) => (schema = ready));

const LEAKED = 100;

test('SIGKILL after segments later than one kept for leaked spans were deleted: crash records for the open spans only', async () => {
  const dir = tempDir();
  const journalDir = join(dir, 'journal');
  const ledger = join(dir, 'ledger.jsonl');
  const child = runFixture(fixture, {
    DATABASE_URL: db.url,
    SCHEMA: schema,
    JOURNAL_DIR: journalDir,
    LEDGER: ledger,
    CRASH_MODE: 'sigkill',
    LEAK: String(LEAKED),
    ENDED: '300',
    FLUSH_FIRST: '1',
    MAX_SEGMENT_BYTES: String(32 * 1024),
  });
  const ids = await child.ready;
  const [writer] = readdirSync(journalDir);
  const segments = () => segmentNames(join(journalDir, writer!));
  // Everything that ended is committed (FLUSH_FIRST): the first segment stays for the
  // leaked spans, those after it, the straddling span's END among them, are gone.
  await expect.poll(() => segments().length, { timeout: 10_000 }).toBeLessThanOrEqual(3);
  expect(segments()).toContain(segmentFileName(1));
  expect(segments().length).toBeGreaterThan(0);
  await killed(child);

  const report = await recoverInto(db, schema, journalDir);
  expect(report.failures).toEqual([]);
  // The leak and the request in flight (root, payment, gateway): not the straddling span.
  expect(report.spansCrashed).toBe(LEAKED + 3);
  await expectEveryStartedSpanOnce(db, schema, ledger);
  const [trace] = await db.query<{ trace_end: string; span_end: string; state: string }>(
    `SELECT t.end_time_unix_nano::text AS trace_end, s.end_time_unix_nano::text AS span_end, s.state
       FROM "${schema}".traces t JOIN "${schema}".spans s USING (trace_id) WHERE t.trace_id = $1`,
    [ids.straddlerTrace],
  );
  expect(trace).toEqual({ trace_end: trace!.span_end, span_end: trace!.span_end, state: 'ended' });
});
