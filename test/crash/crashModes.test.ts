import { execFile } from 'node:child_process';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { claimedDirName } from '../../src/journal/journalPaths.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { runFixture } from '../helpers/childProcess.js';
import { expectEveryStartedSpanOnce, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('crash_modes');
});
afterAll(async () => {
  await db.close();
});

const recover = (journalDir: string) => recoverInto(db, schema, journalDir);

interface Mode {
  mode: string;
  nodeArgs?: string[];
  kill?: boolean;
  reason: RegExp;
  /** The process wrote its crash records itself (a clean shutdown, the database up): recovery finds nothing left. */
  selfRecorded?: boolean;
}

const modes: Mode[] = [
  { mode: 'sigkill', kill: true, reason: /^process vanished; last heartbeat at \d{4}-/ },
  { mode: 'uncaught', reason: /TypeError: card number is not a string/ },
  { mode: 'exit3', reason: /^process exited with code 3 while the span was open$/ },
  { mode: 'abort', reason: /^process vanished; last heartbeat at/ },
  { mode: 'oom', nodeArgs: ['--max-old-space-size=24'], reason: /^process vanished; last heartbeat at/ },
  { mode: 'shutdown', reason: /^the span was still open when the span processor shut down; an end after that was not recorded$/, selfRecorded: true },
];

describe.each(modes)('a process that dies by $mode', ({ mode, nodeArgs, kill, reason, selfRecorded }) => {
  test('leaves every started span in PostgreSQL exactly once, open ones as crash records', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger, CRASH_MODE: mode }, nodeArgs);
    const ids = await child.ready;
    if (kill) child.child.kill('SIGKILL');
    const exit = await child.exited;
    expect(exit.code === 0 && exit.signal === null).toBe(mode === 'shutdown');

    const report = await recover(journalDir);
    expect(report).toMatchObject(selfRecorded ? { journals: 0, spansCrashed: 0, failures: [] } : { journals: 1, spansCrashed: 3, failures: [] });
    expect(readdirSync(journalDir)).toEqual([]);

    const rows = await expectEveryStartedSpanOnce(db, schema, ledger);
    const crashed = rows.filter((row) => row.state === 'crashed');
    expect(crashed.map((row) => row.name).sort()).toEqual(['POST /checkout', 'call payment gateway', 'charge card']);
    for (const row of crashed) expect(row.crash_reason).toMatch(reason);
    // The tree renders: the deepest crashed span hangs under its crashed parent, under the root.
    const byId = new Map(rows.map((row) => [row.span_id, row]));
    const gateway = byId.get(ids.gateway)!;
    const payment = byId.get(gateway.parent_span_id!)!;
    expect(payment.name).toBe('charge card');
    expect(payment.parent_span_id).toBe(ids.root);
    expect(byId.get(ids.root)?.parent_span_id).toBeNull();
  });
});

test("an uncaught error whose message is a megabyte: its crash records' reasons keep its first 4096 characters (each was a megabyte)", async () => {
  const dir = tempDir();
  const journalDir = join(dir, 'journal');
  const ledger = join(dir, 'ledger.jsonl');
  const child = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger, CRASH_MODE: 'uncaught-huge', SERVICE: 'huge-error' });
  await child.ready;
  expect((await child.exited).code).not.toBe(0);
  expect(await recover(journalDir)).toMatchObject({ journals: 1, spansCrashed: 3, failures: [] });
  const rows = await expectEveryStartedSpanOnce(db, schema, ledger);
  const crashed = rows.filter((row) => row.state === 'crashed');
  expect(crashed).toHaveLength(3);
  for (const row of crashed) {
    expect(row.crash_reason).toContain(`TypeError: validation failed for payload ${'P'.repeat(4000)}`);
    expect(row.crash_reason).toContain('more characters)');
    expect(row.crash_reason!.length).toBeLessThan(24 * 1024);
  }
});

describe('recovery', () => {
  test('leaves a live process journal alone, then recovers it once the process is gone', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger });
    await child.ready;
    const whileAlive = await recover(journalDir);
    expect(whileAlive).toMatchObject({ journals: 0, liveJournals: 1 });
    expect(readdirSync(journalDir)).toHaveLength(1);

    child.child.kill('SIGKILL');
    await child.exited;
    expect(await recover(journalDir)).toMatchObject({ journals: 1, spansCrashed: 3 });
    const before = await expectEveryStartedSpanOnce(db, schema, ledger);

    const again = await recover(journalDir);
    expect(again).toMatchObject({ journals: 0, spansCrashed: 0 });
    expect(await expectEveryStartedSpanOnce(db, schema, ledger)).toEqual(expect.arrayContaining(before));
  });

  test('a claim left by a recoverer that died is taken over at once; a live claimer keeps its claim', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger, SERVICE: 'claim-takeover' });
    await child.ready;
    child.child.kill('SIGKILL');
    await child.exited;
    const [writerDir] = readdirSync(journalDir);

    // A live claimer (this process) keeps its claim.
    const live = claimedDirName(writerDir, currentWriterIdentity());
    renameSync(join(journalDir, writerDir), join(journalDir, live));
    expect(await recover(journalDir)).toMatchObject({ journals: 0, liveJournals: 1 });

    // A claimer that died right after its rename: a real process, gone now.
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--input-type=module', '-e',
      `import { currentWriterIdentity } from ${JSON.stringify(join(import.meta.dirname, '../../dist/esm/journal/writerIdentity.js'))};
       console.log(JSON.stringify(currentWriterIdentity()));`,
    ]);
    const deadClaimer = JSON.parse(stdout);
    renameSync(join(journalDir, live), join(journalDir, claimedDirName(writerDir, deadClaimer)));
    expect(await recover(journalDir)).toMatchObject({ journals: 1, spansCrashed: 3 });
    expect(readdirSync(journalDir)).toEqual([]);
    await expectEveryStartedSpanOnce(db, schema, ledger);
  });

  test('a process killed while its export was in flight: no span lost, none twice', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledger = join(dir, 'ledger.jsonl');
    const child = runFixture(fixture, {
      DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger, ENDED: '20000', BATCH: '200', DELAY: '1', SERVICE: 'in-flight',
    });
    await child.ready;
    await expect
      .poll(() => db.count(`SELECT count(*) FROM "${schema}".spans s JOIN "${schema}".traces t USING (trace_id) WHERE t.service_name = 'in-flight'`), { timeout: 30_000, interval: 5 })
      .toBeGreaterThan(0);
    child.child.kill('SIGKILL');
    await child.exited;
    const report = await recover(journalDir);
    expect(report.spansCrashed).toBe(3);
    await expectEveryStartedSpanOnce(db, schema, ledger);
  });

  test('two processes recovering the same directory at once recover each journal once', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const ledgers = [join(dir, 'a.jsonl'), join(dir, 'b.jsonl'), join(dir, 'c.jsonl')];
    for (const ledger of ledgers) {
      const child = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: ledger, ENDED: '50' });
      await child.ready;
      child.child.kill('SIGKILL');
      await child.exited;
    }
    const recoverer = join(import.meta.dirname, '../fixtures/recoverOnce.mjs');
    const env = { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir };
    const [first, second] = [runFixture(recoverer, env), runFixture(recoverer, env)];
    const reports = await Promise.all([first.ready, second.ready]) as unknown as { journals: number; spansCrashed: number }[];
    expect(reports[0].journals + reports[1].journals).toBe(3);
    expect(reports[0].spansCrashed + reports[1].spansCrashed).toBe(9);
    for (const ledger of ledgers) await expectEveryStartedSpanOnce(db, schema, ledger);
    expect(existsSync(journalDir) ? readdirSync(journalDir) : []).toEqual([]);
  });
});
