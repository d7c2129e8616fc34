// The CI-sized crash-torture run (`npm run torture` is the full one): 20 traced child
// processes killed at random moments, by SIGKILL, an uncaught exception, abort() and
// running out of memory, or shut down cleanly with spans open, each recovered and checked
// against the ledger it kept. As in the
// full run, about one run in five journals with durability 'host', and one in five is
// first recovered by a child that is itself SIGKILLed. A fresh seed every time, so CI
// covers new kill moments; a failure prints it, with the findings.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatStats, runTorture } from '../../torture/runTorture.mjs';
import type { TortureMode } from '../../torture/runTorture.mjs';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('torture');
});
afterAll(async () => {
  await db.close();
});

const runsPerMode: Record<TortureMode, number> = { sigkill: 11, uncaught: 3, abort: 2, oom: 2, shutdown: 2 };

test('20 processes killed at random moments or shut down: every started span is in PostgreSQL once, the open ones as crash records', async () => {
  const lines: string[] = [];
  const result = await runTorture({ databaseUrl: db.url, schema, modes: runsPerMode, log: (line) => lines.push(line) });
  const report = [
    ...lines,
    ...Object.entries(result.byMode).map(([mode, stats]) => formatStats(mode, stats)),
    formatStats('total', result.total),
  ].join('\n');

  expect(result.failures, report).toEqual([]);
  expect(result.total, report).toMatchObject({ runs: 20, lost: 0, duplicated: 0, orphans: 0, problems: 0, endedButCrashed: 0 });
  expect(result.total.ended, report).toBeGreaterThan(0);
  // Every mode ended processes with spans open, and those became crash records.
  for (const mode of Object.keys(runsPerMode) as TortureMode[]) {
    expect(result.byMode[mode]?.runs, report).toBe(runsPerMode[mode]);
    expect(result.byMode[mode]?.crashed, `${mode}\n${report}`).toBeGreaterThan(0);
  }
}, 300_000);
