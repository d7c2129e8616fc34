// Recovery runs in bounded memory: a journal several times larger than the recovering
// process's heap limit is recovered completely by a child started with a small
// --max-old-space-size. (Before the streaming reader, recovery loaded whole segments and
// kept every END: a 212 MiB journal peaked at 783 MiB of heap.)
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
afterAll(() => db.close());

const SPANS = 60_000;

describe('recovery memory', () => {
  test('a journal far larger than the heap limit is recovered completely with --max-old-space-size=48', async () => {
    const schema = await db.freshSchema('recovery_memory');
    await migrateSchema(db.pool, schema);
    const journalDir = join(tempDir(), 'journal');
    const { bytes } = writeDeadJournal(journalDir, SPANS, { openEvery: 10, padding: 600 });
    expect(bytes).toBeGreaterThan(64 * 1024 * 1024);
    const child = runFixture(
      join(import.meta.dirname, '../fixtures/recoverOnce.mjs'),
      { JOURNAL_DIR: journalDir, SCHEMA: schema, DATABASE_URL: db.url },
      ['--max-old-space-size=48'],
    );
    const report = await child.ready;
    const { code, stderr } = await child.exited;
    expect(stderr).not.toMatch(/heap out of memory/);
    expect(code).toBe(0);
    expect(report).toMatchObject({ journals: 1, spansEnded: SPANS - SPANS / 10, spansCrashed: SPANS / 10 });
    const rows = await db.query<{ state: string; n: number }>(
      `SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`,
    );
    expect(rows).toEqual([
      { state: 'crashed', n: SPANS / 10 },
      { state: 'ended', n: SPANS - SPANS / 10 },
    ]);
    expect(readdirSync(journalDir)).toEqual([]);
  }, 180_000);

  // An attack: a TracerProvider per job left a journal of 19,000 resources, all decoded and
  // built in recovery's first pass and held to its end (a 245 MB heap): the application
  // that recovered it at start died at a 160 MB one, at every restart.
  test('a journal of 12,000 distinct resources (a TracerProvider per job) is recovered completely with --max-old-space-size=64, each span with its own', async () => {
    const schema = await db.freshSchema('recovery_memory_resources');
    await migrateSchema(db.pool, schema);
    const journalDir = join(tempDir(), 'journal');
    const spans = 24_000;
    writeDeadJournal(journalDir, spans, { openEvery: 10, resourceEvery: 2 });
    const child = runFixture(
      join(import.meta.dirname, '../fixtures/recoverOnce.mjs'),
      { JOURNAL_DIR: journalDir, SCHEMA: schema, DATABASE_URL: db.url },
      ['--max-old-space-size=64'],
    );
    const report = await child.ready.catch((error: Error) => error.message);
    const { code, stderr } = await child.exited;
    expect(stderr).not.toMatch(/heap out of memory/);
    expect(code).toBe(0);
    expect(report).toMatchObject({ journals: 1, spansEnded: spans - spans / 10, spansCrashed: spans / 10 });
    const [stored] = await db.query<{ spans: number; resources: number; jobs: number; mismatched: number }>(
      `SELECT count(*)::int AS spans, count(DISTINCT resource)::int AS resources, count(DISTINCT resource->>'job.id')::int AS jobs,
              count(*) FILTER (WHERE (resource->>'job.id')::int <> (attributes->>'i')::int / 2)::int AS mismatched
         FROM "${schema}".spans`,
    );
    expect(stored).toEqual({ spans, resources: spans / 2, jobs: spans / 2, mismatched: 0 });
  }, 180_000);
});
