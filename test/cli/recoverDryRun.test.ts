// `recover --dry-run`: what a recovery would do with each journal of a directory, read-only.
// Before, the only way to learn which journals were dead, alive or left alone (another
// user's, another destination's) was to recover them (an operator review).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('recover_dry_run');
  await migrateSchema(db.pool, schema);
});
afterAll(() => db.close());

/**
 * Every file under each of `dirs`, with its size: what a dry run must leave as it was (a
 * claim renames the directory; a recovery writes its progress file, cuts and removes
 * segments). Not the modification times: the "dead" writers are faked in this process, and
 * their mapped segments' pages, faulted in ahead on the thread pool, may still set them.
 */
function listing(...dirs: string[]): string[] {
  return dirs
    .flatMap((dir) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)))
    .map((path) => `${path} ${statSync(path).size}`)
    .sort();
}

test('recover --dry-run names each journal with its verdict, and changes nothing: no claim, no row, no file', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 20, { openEvery: 5 });
  const elsewhere = writeDeadJournal(journalDir, 5, { writerId: `w${'0'.repeat(9)}-4194315-1-${'cd'.repeat(8)}`, destination: 'postgresql://elsewhere:5432/other?schema=public' });
  const live = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir, recover: false });
  const provider = providerWith(live, 'alive-while-judged');
  provider.getTracer('t').startSpan('open in a live process');
  try {
    // The dead journals only: the live processor's own directory may change meanwhile (a spare segment made ahead).
    const before = listing(dead.writerDir, elsewhere.writerDir);
    const text = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', journalDir, '--schema', schema, '--dry-run');
    const json = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', journalDir, '--schema', schema, '--dry-run', '--json');

    // Left alone for another destination: exit 1, as the recovery itself would.
    expect(text.code).toBe(1);
    // Each alive or dead verdict says why: "alive" alone left an operator guessing (a
    // header the writer never wrote is judged by silence, for staleAfter, an attack).
    expect(text.stdout).toContain(`dead, would be recovered: ${dead.writerDir} (`);
    expect(text.stdout).toContain(`written for another destination (database, schema, or an exporter that names none), would be left alone (--recover-any-destination): ${elsewhere.writerDir}`);
    expect(text.stdout).toMatch(/alive, left alone: .*journal\/w\S+ \((a process holds its journal lock|written by this process)\)\n/);
    expect(text.stdout).toContain('dry run: 3 journals: 1 would be recovered, 1 alive, 1 left alone; nothing was changed');

    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ journals: 0, liveJournals: 1, otherDestinationJournals: 1 });
    expect(report.verdicts.map((v: { verdict: string }) => v.verdict).sort()).toEqual(['alive', 'dead', 'other-destination']);
    expect(report.verdicts.find((v: { verdict: string }) => v.verdict === 'dead').why).toMatch(/no process holds its journal lock|no longer runs|no sign of life/);

    expect(listing(dead.writerDir, elsewhere.writerDir)).toEqual(before);
    expect(readdirSync(journalDir)).toHaveLength(3);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(0);

    // And the recovery itself then does what the dry run said.
    const exporter = new CollectingExporter();
    const recovered = await recoverJournals({ journalDir, exporter });
    expect(recovered).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, liveJournals: 1, otherDestinationJournals: 1 });
  } finally {
    await provider.shutdown();
  }
});

test('recoverJournals({ dryRun: true }) exports nothing and reports a verdict per journal', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 10);
  const exporter = new CollectingExporter();
  const before = listing(dead.writerDir);
  const report = await recoverJournals({ journalDir, exporter, dryRun: true });
  expect(report).toMatchObject({ journals: 0, spansEnded: 0, verdicts: [{ dir: dead.writerDir, verdict: 'dead' }] });
  expect(exporter.calls).toBe(0);
  expect(listing(dead.writerDir)).toEqual(before);
  expect((await recoverJournals({ journalDir, exporter })).journals).toBe(1);
  // A directory that is not there: no journals, and an empty list of verdicts.
  expect((await recoverJournals({ journalDir: join(tempDir(), 'none'), exporter, dryRun: true })).verdicts).toEqual([]);
});
