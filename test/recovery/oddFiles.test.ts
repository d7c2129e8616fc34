// Anything can sit in a journal directory: a FIFO under a segment's or the progress file's
// name (planted, or left by a tool) blocked open(2) for good — on the application's thread
// (the event loop froze), or on a thread-pool thread (shutdown() never settled and the
// process could not exit). Recovery now opens only regular files, without blocking, and
// goes on. Each case runs in a child process: a recovery that blocks its own thread could
// not even time out in this one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { RECOVERY_PROGRESS_FILE } from '../../src/journal/journalPaths.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runFixture } from '../helpers/childProcess.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
afterAll(() => db.close());

/** Recovers `journalDir` in a child, killed if it has not finished within 20 s. */
async function recoverInChild(journalDir: string) {
  const schema = await db.freshSchema('odd_files');
  await migrateSchema(db.pool, schema);
  const child = runFixture(join(import.meta.dirname, '../fixtures/recoverOnce.mjs'), { JOURNAL_DIR: journalDir, SCHEMA: schema, DATABASE_URL: db.url });
  const killer = setTimeout(() => child.child.kill('SIGKILL'), 20_000);
  try {
    const exited = await child.exited;
    return { exited, report: await child.ready.catch(() => undefined), schema };
  } finally {
    clearTimeout(killer);
  }
}

const mkfifo = (path: string) => execFileSync('mkfifo', [path]);

describe('a FIFO in a journal directory', () => {
  test.each([
    ['a segment', '00000002.seg'],
    ['the recovery progress file', RECOVERY_PROGRESS_FILE],
  ])('named like %s: recovery does not block, and recovers the rest', async (_, name) => {
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 20, { openEvery: 10 });
    mkfifo(join(dead.writerDir, name));

    const { exited, report } = await recoverInChild(journalDir);

    expect(exited).toMatchObject({ code: 0, signal: null });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open });
  });

  test("as a writer's only segment: judging its liveness does not block", async () => {
    const journalDir = join(tempDir(), 'journal');
    const writerDir = join(journalDir, `w000000000-${2 ** 22 + 9}-1-${'cd'.repeat(8)}`);
    mkdirSync(writerDir, { recursive: true });
    mkfifo(join(writerDir, '00000001.seg'));

    const { exited } = await recoverInChild(journalDir);

    expect(exited).toMatchObject({ code: 0, signal: null });
  });
});

test('a recovered journal is renamed out of every scan before it is removed; one left so by a killed recoverer is removed, never read again', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 20);
  // What a recoverer killed halfway through removing it leaves: the name, some segments.
  renameSync(dead.writerDir, join(journalDir, '.recovered-0123456789abcdef'));
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 0, spansEnded: 0, spansCrashed: 0, failures: [] });
  expect(exporter.spans).toEqual([]);
  expect(readdirSync(journalDir)).toEqual([]);
  // And a journal recovered now leaves nothing behind.
  writeDeadJournal(journalDir, 20);
  expect((await recoverJournals({ journalDir, exporter })).journals).toBe(1);
  expect(readdirSync(journalDir)).toEqual([]);
});
