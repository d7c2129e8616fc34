// A journal the recovering user cannot read (another user's files behind a directory it may
// not list, a segment it may not open, an I/O error) was passed over in silence: not
// listed by --dry-run, "recovered 0 journals" and exit 0; or, with only its segments
// unreadable, called alive by the silence of files it could not read (a review, as user
// nobody against a dead root-owned journal). Now it is said, listed, and exits 1. Root
// reads everything, so the tests make a segment no one can open: a symlink to itself (ELOOP).
import { copyFileSync, mkdirSync, rmSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { collectDiag } from '../helpers/diagLines.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('recover_unreadable');
  await migrateSchema(db.pool, schema);
});
afterAll(() => db.close());

/** A dead journal, and a writer's directory beside it whose only segment cannot be opened. */
function journalsOneUnreadable() {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 12, { openEvery: 4 });
  const unreadable = join(journalDir, `w000000000-${2 ** 22 + 11}-1-${'ef'.repeat(8)}`);
  mkdirSync(unreadable);
  symlinkSync('00000001.seg', join(unreadable, '00000001.seg'));
  return { journalDir, dead, unreadable };
}

test('recover lists a journal it cannot read, says why, recovers the others, and exits 1', async () => {
  const { journalDir, dead, unreadable } = journalsOneUnreadable();

  const dryRun = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', journalDir, '--schema', schema, '--dry-run');
  expect(dryRun.code).toBe(1);
  expect(dryRun.stdout).toContain(`cannot be read by this user to be judged, would be left alone (run as its owner, or as root with --recover-foreign-journals): ${unreadable}`);
  expect(dryRun.stdout).toContain('dry run: 2 journals: 1 would be recovered, 0 alive, 1 left alone; nothing was changed');

  const run = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', journalDir, '--schema', schema);
  expect(run.code).toBe(1);
  expect(run.stdout).toContain(`recovered 1 journals`);
  expect(run.stdout).toContain('; 1 journals this user cannot read left alone (run recover as their owner, or as root with --recover-foreign-journals)');
  expect(run.stderr).toContain(`cannot tell whether the writer of ${unreadable} is alive, so it is not recovered: ELOOP`);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'ended'`)).toBe(dead.ended);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`)).toBe(dead.open);
});

test('recoverJournals counts it in unreadableJournals, says it once per process, and recovers it once it can be read', async () => {
  const { journalDir, unreadable } = journalsOneUnreadable();
  const warnings = collectDiag();
  const exporter = new CollectingExporter();
  expect(await recoverJournals({ journalDir, exporter })).toMatchObject({ journals: 1, unreadableJournals: 1, liveJournals: 0, failures: [] });
  expect(await recoverJournals({ journalDir, exporter })).toMatchObject({ journals: 0, unreadableJournals: 1 });
  expect(warnings.filter((line) => line.includes(`cannot tell whether the writer of ${unreadable} is alive`))).toHaveLength(1);

  rmSync(join(unreadable, '00000001.seg'));
  // Nothing left to read in it: no header, no lock, silent for longer than staleAfterMillis.
  // Its directory's mtime (the removal) set a minute back: read within the millisecond of
  // the removal, the journal was judged alive by that silence (a flake, once in CI).
  const aMinuteAgo = new Date(Date.now() - 60_000);
  utimesSync(unreadable, aMinuteAgo, aMinuteAgo);
  expect(await recoverJournals({ journalDir, exporter, staleAfterMillis: 1 })).toMatchObject({ journals: 1, unreadableJournals: 0 });
});

test("recover pointed at one process's journal (a directory of segments) says to pass its parent, and exits 1", async () => {
  const { journalDir, dead } = journalsOneUnreadable();
  const run = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', dead.writerDir, '--schema', schema);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`${dead.writerDir} is one process's journal (it holds segments); pass the directory that holds it: --journal-dir ${journalDir}`);
  expect(run.stdout).toBe('');
});

// A stray file of a segment's name beside the journals (copied there by hand, left by a
// tool) made the whole directory "one process's journal": nothing in it was recovered, not
// even listed, and the advice named its parent (a review).
test('a directory of journals that also holds a stray segment-named file is still recovered', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 8, { openEvery: 4 });
  copyFileSync(join(dead.writerDir, '00000001.seg'), join(journalDir, '00000001.seg'));
  const dryRun = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', journalDir, '--schema', schema, '--dry-run');
  expect(dryRun.stdout).toContain(`dead, would be recovered: ${dead.writerDir}`);
  expect(dryRun.code).toBe(0);
});
