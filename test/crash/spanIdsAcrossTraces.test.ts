// A span id is unique within its trace only (the OpenTelemetry specification asks no more
// of an id generator), so two spans of different traces may share one. The journal must
// tell them apart by trace id and span id, as the database's key does: when a span of
// another trace ends under the same id as a span still running, the running span's START
// must stay open, carried across rotations and turned into a crash record when the process
// dies, and the ended one must be committed as ended.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce, killed, killOnceFirstSegmentIsGoneThenRecover, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'span_ids_across_traces', (name) => (schema = name));

// Two spans per request and ids that come back every 1,000 spans: the open job's id is
// reused by three requests of other traces, each ended before the process dies.
const REQUESTS = 1500;

/** The crashing service with a job left open first and span ids reused across traces. */
function service(env: Record<string, string>) {
  const dir = tempDir();
  const journalDir = join(dir, 'journal');
  const ledger = join(dir, 'ledger.jsonl');
  const child = runFixture(fixture, { SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger, CRASH_MODE: 'sigkill', OPEN_FIRST: '1', SPAN_IDS: 'cycling', ENDED: String(REQUESTS), ...env });
  return { child, journalDir, ledger };
}

describe('span ids reused across traces (SIGKILL)', () => {
  test('recovery keeps a running span open when a span of another trace with its id ends', async () => {
    // Nothing is exported live: every row comes from recovery's reading of the journal.
    const { child, journalDir, ledger } = service({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable', SERVICE: 'reused-ids-recovery' });
    const ready = await child.ready;
    await killed(child);

    const report = await recoverInto(db, schema, journalDir, true);
    expect(report).toMatchObject({ spansEnded: REQUESTS * 2 + 1, spansCrashed: 4, failures: [] });
    const rows = await expectEveryStartedSpanOnce(db, schema, ledger);
    expect(rows).toHaveLength(REQUESTS * 2 + 5);
    expect(rows.filter((row) => row.trace_id === ready.jobTrace)).toMatchObject([{ name: 'nightly export', state: 'crashed' }]);
    // The id is shared: other traces' spans carry it, ended.
    const namesakes = rows.filter((row) => row.span_id === ready.job && row.trace_id !== ready.jobTrace);
    expect(namesakes.length).toBeGreaterThanOrEqual(3);
    for (const row of namesakes) expect(row.state).toBe('ended');
  });

  test('the writer carries the running span START out of deleted segments though a namesake ended', async () => {
    // Exported and committed, and the job's first segment deleted, before the kill.
    const { child, journalDir, ledger } = service({ DATABASE_URL: db.url, FLUSH_FIRST: '1', MAX_SEGMENT_BYTES: String(16 * 1024), SERVICE: 'reused-ids-carried' });
    const ready = await child.ready;
    const rows = await killOnceFirstSegmentIsGoneThenRecover(db, schema, child, journalDir, ledger);
    expect(rows).toHaveLength(REQUESTS * 2 + 5);
    expect(rows.filter((row) => row.trace_id === ready.jobTrace)).toMatchObject([{ name: 'nightly export', state: 'crashed' }]);
  });
});
