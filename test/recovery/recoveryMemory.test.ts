// Recovery runs in bounded memory: a journal several times larger than the recovering
// process's heap limit is recovered completely by a child started with a small
// --max-old-space-size. (Before the streaming reader, recovery loaded whole segments and
// kept every END: a 212 MiB journal peaked at 783 MiB of heap.)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
afterAll(() => db.close());

const SPANS = 60_000;
/** Every tenth span stays open, as in bench/recovery.mjs. */
const isOpen = (i: number): boolean => i % 10 === 0;

/** A dead writer's journal of SPANS spans, nothing committed: written by a JournalWriter that is simply abandoned. */
function deadJournal(journalDir: string): number {
  const writer = new JournalWriter({
    journalDir,
    // Another pid that is not running: recovery sees the writer dead.
    identity: { ...currentWriterIdentity(), pid: 2 ** 22 + 7, procStartTicks: '1', writerId: `w${'0'.repeat(9)}-${2 ** 22 + 7}-1-${'ab'.repeat(8)}` },
    durability: 'process',
    maxSegmentBytes: 8 * 1024 * 1024,
    maxJournalBytes: 8 * 1024 ** 3,
    groupCommitMillis: 10,
    heartbeatIntervalMs: 1000,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'recovery-memory' }),
    spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  const tracer = provider.getTracer('memory');
  const padding = 'x'.repeat(600);
  for (let i = 0; i < SPANS; i++) {
    const span = tracer.startSpan('GET /orders/:id', { attributes: { i, padding, 'http.route': '/orders/:id' } });
    span.addEvent('cache miss', { key: `order:${i}` });
    if (!isOpen(i)) span.end();
  }
  // No close(): the process "died" here, its segment files are what it left.
  return readdirSync(writer.writerDir).reduce((sum, name) => sum + statSync(join(writer.writerDir, name)).size, 0);
}

describe('recovery memory', () => {
  test('a journal far larger than the heap limit is recovered completely with --max-old-space-size=48', async () => {
    const schema = await db.freshSchema('recovery_memory');
    await migrateSchema(db.pool, schema);
    const journalDir = join(tempDir(), 'journal');
    const bytes = deadJournal(journalDir);
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
});
