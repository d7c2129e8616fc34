// A journal whose header cannot be read is recovered under its writer's id all the same,
// taken from its directory's name: before, the claimed directory's whole name (which adds
// the claimer, another at every recovery) keyed its log records, so a recovery done again
// (killed after its commit, before it removed the journal) stored every log record twice.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
afterAll(() => db.close());

test('a journal with a damaged header, recovered twice by two processes, stores each log record once', async () => {
  const schema = await db.freshSchema('unreadable_header');
  await migrateSchema(db.pool, schema);
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 40, { openEvery: 10, logs: 20 });
  // A flipped byte inside the header record's JSON: its checksum fails, the rest reads.
  const first = join(dead.writerDir, segmentNames(dead.writerDir)[0]!);
  const bytes = readFileSync(first);
  bytes[30] ^= 0x20;
  writeFileSync(first, bytes);
  const again = join(tempDir(), 'again');
  cpSync(journalDir, again, { recursive: true });

  // Without its header the writer is judged by silence alone: a millisecond of it here.
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (const dir of [journalDir, again]) {
    const child = runFixture(join(import.meta.dirname, '../fixtures/recoverOnce.mjs'), { JOURNAL_DIR: dir, SCHEMA: schema, DATABASE_URL: db.url, STALE_AFTER_MILLIS: '1' });
    await child.ready;
    expect((await child.exited).code).toBe(0);
  }

  expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log'`)).toBe(dead.logs);
  expect(await db.query(`SELECT DISTINCT writer_id FROM "${schema}".logs WHERE kind = 'log'`)).toEqual([{ writer_id: dead.writerDir.split('/').pop() }]);
});
