// A span the application drops without ending it never reaches onEnd. The journal held
// every such span, and what it kept for its END, until the process exited: memory and
// journal that only grew, where the stock processor lets the span be collected. Now a
// span open for a second or two is held weakly; once the application has dropped it and
// it is collected, it gets its crash record (the reason says the application dropped it),
// and the journal lets go of it.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/abandoningService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'abandoned_spans', (name) => (schema = name));

async function expectRows(dropped: number): Promise<void> {
  const rows = await db.query<{ name: string; state: string; crash_reason: string | null; end_time_estimated: boolean; attributes: Record<string, unknown> }>(
    `SELECT name, state, crash_reason, end_time_estimated, attributes FROM "${schema}".spans WHERE service_name = 'abandoning'`,
  );
  const droppedRows = rows.filter((row) => row.name === 'dropped');
  expect(droppedRows).toHaveLength(dropped);
  expect(new Set(droppedRows.map((row) => row.attributes.i)).size).toBe(dropped);
  for (const row of droppedRows) {
    expect(row).toMatchObject({ state: 'crashed', end_time_estimated: true });
    expect(row.crash_reason).toMatch(/^the application dropped the span without ending it/);
  }
  // Held weakly by then, and ended: an ordinary row, with what was set since the start.
  expect(rows.find((row) => row.name === 'ended late')).toMatchObject({ state: 'ended', crash_reason: null, attributes: { 'job.id': 3, 'job.step': 'done' } });
  // Held by the application to the end: shutdown's crash record, not an abandoned one.
  expect(rows.find((row) => row.name === 'kept open')?.crash_reason).toMatch(/still open when the span processor shut down/);
  expect(rows).toHaveLength(dropped + 2);
}

/** The fixture in a child with --expose-gc, dropping `dropped` spans, with rows emptied first; its journal directory too. */
function runAbandoning(dropped: number, env: Record<string, string> = {}): { run: ReturnType<typeof runFixture>; journalDir: string } {
  const journalDir = join(tempDir(), 'journal');
  const run = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, DROPPED: String(dropped), ...env }, ['--expose-gc']);
  return { run, journalDir };
}

/** Runs it to its exit (0) after a clean shutdown; what it said before shutting down. */
async function runAbandoningToExit(dropped: number, env: Record<string, string> = {}): Promise<{ ready: Record<string, unknown>; stderr: string; journalDir: string }> {
  await db.query(`DELETE FROM "${schema}".spans`);
  const { run, journalDir } = runAbandoning(dropped, env);
  const [ready, exit] = await Promise.all([run.ready, run.exited]);
  expect(exit.code, exit.stderr).toBe(0);
  return { ready, stderr: exit.stderr, journalDir };
}

const writerDirs = (journalDir: string) => (existsSync(journalDir) ? readdirSync(journalDir).filter((name) => name.startsWith('w')) : []);

test('spans dropped without end() get crash records saying so, once collected, and leave the journal', async () => {
  const dropped = 300;
  const { ready, stderr, journalDir } = await runAbandoningToExit(dropped);
  // Before shutdown: the journal held only the two spans the application still held.
  expect(ready).toMatchObject({ openSpans: 2, spansAbandoned: dropped });
  expect(stderr).toMatch(/dropped by the application without being ended/);
  await expectRows(dropped);
  expect(writerDirs(journalDir)).toEqual([]);
});

test('spans collected right before shutdown get their crash records before the journal closes', async () => {
  const dropped = 200;
  const { ready, journalDir } = await runAbandoningToExit(dropped, { COLLECT: 'at-shutdown' });
  expect(ready).toMatchObject({ openSpans: dropped + 2, spansAbandoned: 0, spansAbandonedAtShutdown: dropped });
  await expectRows(dropped);
  // Nothing left for a recovery to write again.
  expect(writerDirs(journalDir)).toEqual([]);
});

test('crash records of dropped spans journaled while the database is down survive a SIGKILL: recovery writes each once', async () => {
  await db.query(`DELETE FROM "${schema}".spans`);
  const dropped = 150;
  // Nothing listens there: every export fails, and the records wait in the journal.
  const { run, journalDir } = runAbandoning(dropped, { DATABASE_URL: 'postgres://postgres@127.0.0.1:9/nowhere', THEN: 'hang' });
  expect(await run.ready).toMatchObject({ openSpans: 2, spansAbandoned: dropped });
  run.child.kill('SIGKILL');
  expect((await run.exited).signal).toBe('SIGKILL');

  // Written for another database (the unreachable one): recovered here all the same.
  const report = await recoverInto(db, schema, journalDir, true);
  expect(report.failures).toEqual([]);
  const rows = await db.query<{ name: string; state: string; crash_reason: string | null }>(`SELECT name, state, crash_reason FROM "${schema}".spans WHERE service_name = 'abandoning'`);
  const droppedRows = rows.filter((row) => row.name === 'dropped');
  expect(droppedRows).toHaveLength(dropped);
  for (const row of droppedRows) expect(row).toMatchObject({ state: 'crashed', crash_reason: expect.stringMatching(/^the application dropped the span without ending it/) });
  expect(rows.find((row) => row.name === 'ended late')?.state).toBe('ended');
  expect(rows.find((row) => row.name === 'kept open')?.crash_reason).toMatch(/^process vanished/);
  expect(rows).toHaveLength(dropped + 2);
});
