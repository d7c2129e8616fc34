// The journal of a real process that died (process.exit(3)) with spans open: the fixture
// ends `ended` requests (two spans each), then leaves three spans open and one ended.
import { join } from 'node:path';
import { expect } from 'vitest';
import { runFixture } from './childProcess.js';

const crashingService = join(import.meta.dirname, '../fixtures/crashingService.mjs');

/** Writes the dead process's journal into `<dir>/journal` and returns that path. */
export async function exitedProcessJournal(dir: string, ended = 0): Promise<string> {
  const journalDir = join(dir, 'journal');
  const child = runFixture(crashingService, {
    DATABASE_URL: 'postgres://127.0.0.1:1/none',
    JOURNAL_DIR: journalDir,
    LEDGER: join(dir, 'ledger.jsonl'),
    CRASH_MODE: 'exit3',
    ENDED: String(ended),
  });
  await child.ready;
  expect((await child.exited).code).toBe(3);
  return journalDir;
}
