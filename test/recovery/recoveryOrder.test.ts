// Dead journals are recovered smallest first. In a crash loop after a long outage, each
// restart finds one large journal (the outage's backlog) and the small ones the loop itself
// left, which hold the crash records that explain it. Recovered in name order, the large one
// came first at every restart, and a restart that died while recovering it never reached
// the small ones: the cause of the loop stayed out of the database for as long as it lasted.
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { silentSince, writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('recovery_order');
});
afterAll(async () => {
  await db.close();
});

/** A dead writer's id that sorts by `n` (its first part is the writer's start time). */
function writerId(n: number): string {
  return `w${String(n).padStart(9, '0')}-${2 ** 22 + 7}-1-${'cd'.repeat(8)}`;
}

test('the small journals of a crash loop are recovered before a large one that sorts first, also when recovery stops after them', async () => {
  const journalDir = tempDir();
  const large = writeDeadJournal(journalDir, 3000, { writerId: writerId(1), padding: 600, openEvery: 10, maxSegmentBytes: 256 * 1024 });
  const small = [writeDeadJournal(journalDir, 4, { writerId: writerId(2), openEvery: 2 }), writeDeadJournal(journalDir, 6, { writerId: writerId(3), openEvery: 3 })];
  // Segments are preallocated, so a journal's size shows in how many it has.
  expect(readdirSync(large.writerDir).length).toBeGreaterThan(readdirSync(small[0]!.writerDir).length + 5);
  expect(readdirSync(journalDir).sort()[0]).toBe(basename(large.writerDir));

  // A restart that dies once two journals are done: here, a shutdown's signal.
  const stop = new AbortController();
  const order: string[] = [];
  const dirs: string[] = [];
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    const report = await recoverJournals({
      journalDir,
      exporter,
      signal: stop.signal,
      onJournal: ({ dir, outcome }) => {
        order.push(`${basename(dir).slice(0, 10)} ${outcome}`);
        dirs.push(dir);
        if (order.length === 2) stop.abort();
      },
    });
    expect(order).toEqual([`${writerId(2).slice(0, 10)} recovered`, `${writerId(3).slice(0, 10)} recovered`]);
    // Named as the operator knows them: it was the claim's name (w…​.recovering-…), gone once recovered (a review).
    expect(dirs).toEqual(small.map(({ writerDir }) => writerDir));
    expect(report).toMatchObject({ journals: 2, spansEnded: 2 + 4, spansCrashed: 2 + 2, failures: [] });
    // The large one waits, whole, for the next start.
    expect(existsSync(large.writerDir)).toBe(true);
    const crashed = await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".spans WHERE state = 'crashed'`);
    expect(crashed.rows[0].n).toBe(4);

    const rest = await recoverJournals({ journalDir, exporter });
    expect(rest).toMatchObject({ journals: 1, spansEnded: large.ended, spansCrashed: large.open, failures: [] });
    const rows = await db.pool.query(`SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`);
    expect(rows.rows).toEqual([
      { state: 'crashed', n: 4 + large.open },
      { state: 'ended', n: 6 + large.ended },
    ]);
    expect(readdirSync(journalDir).filter((name) => !name.startsWith('.'))).toEqual([]);
  } finally {
    await exporter.shutdown();
  }
});

test('a journal judged dead by its silence while others were recovered is judged again before it is claimed: a sign of life since leaves it alone', async () => {
  const journalDir = tempDir();
  // Writers on another host (a shared volume): judged by their silence alone.
  const first = writeDeadJournal(journalDir, 4, { writerId: writerId(1), hostname: 'another-host' });
  const second = writeDeadJournal(journalDir, 4, { writerId: writerId(2), hostname: 'another-host' });
  for (const { writerDir } of [first, second]) await silentSince(writerDir, Date.now() - 120_000);
  // The first journal's recovery takes longer than a verdict stays fresh.
  const collecting = new CollectingExporter();
  const slow: SpanExporter = {
    export: (spans, done) => setTimeout(() => collecting.export(spans, done), 1_200),
    shutdown: async () => {},
  };
  const report = await recoverJournals({
    journalDir,
    exporter: slow,
    staleAfterMillis: 30_000,
    onJournal: () => {
      // Meanwhile the second writer wrote again: it was paused, not dead.
      const now = new Date();
      for (const name of readdirSync(second.writerDir)) utimesSync(join(second.writerDir, name), now, now);
    },
  });
  expect(report).toMatchObject({ journals: 1, liveJournals: 1, spansEnded: first.ended, spansCrashed: first.open, failures: [] });
  expect(existsSync(second.writerDir)).toBe(true);
  expect(collecting.spans).toHaveLength(first.ended + first.open);
});
