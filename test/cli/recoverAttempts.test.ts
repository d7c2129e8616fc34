// `recover --attempts N`: how often each batch is tried before the journal is given back.
// Five tries take about a second, and under ExecStopPost= the database may be restarting
// at that moment: the run failed (exit 1) with no way to wait longer (a review). Here the
// database's port answers nothing for the first seconds, then reaches the real server.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { TestDatabase } from '../helpers/database.js';
import { TcpProxy } from '../helpers/TcpProxy.mjs';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('recover_attempts');
  await migrateSchema(db.pool, schema);
});
afterAll(() => db.close());

test('recover --attempts 40 waits for a database that comes up a few seconds late, and recovers the journal', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 12, { openEvery: 4 });
  const proxy = await TcpProxy.create(db.url);
  const recovering = runCli({ DATABASE_URL: proxy.urlFor(db.url) }, 'recover', '--journal-dir', journalDir, '--schema', schema, '--attempts', '40', '--recover-any-destination');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await proxy.listen();
  try {
    const run = await recovering;
    expect(run.stderr).toMatch(/could not export a batch; it tries again/);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: expect.stringContaining(`recovered 1 journals`) });
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`)).toBe(dead.open);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'ended'`)).toBe(dead.ended);
  } finally {
    await proxy.refuse();
  }
});

test('recover --attempts takes a positive integer', async () => {
  for (const value of ['0', '-1', 'many', '1.5']) {
    const run = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', tempDir(), '--attempts', value);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--attempts');
  }
});
