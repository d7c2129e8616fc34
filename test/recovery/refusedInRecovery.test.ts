// Spans of a dead journal that PostgreSQL refuses for good go to the dead letters, and the
// rest of their batch is stored. Recovery counted them as recovered all the same: in its
// report, in onBatch, so in the processor's stats().spansRecovered and its diag line, while
// the dead letters counted them too (an accounting review: 46 recovered and 6 dead letters
// for 40 spans stored). What is refused now counts as a dead letter only. And what a
// recovery committed counts, the journal finished or not.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema = '';
useMigratedSchema(db, 'refused_in_recovery', (made) => (schema = made));

test('a recovery counts what the database refused for good as dead letters, not as recovered: ended spans and crash records alike', async () => {
  // Spans 0, 10, 20 ... stay open (crash records); of those, 0, 20, 40 ... are refused, and
  // of the ended ones 5, 15, 25 ...
  await db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT refuses_some CHECK ((attributes->>'i')::int % 20 <> 0 AND (attributes->>'i')::int % 10 <> 5)`);
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 100);
  expect(dead).toMatchObject({ ended: 90, open: 10 });
  const batches: { spansEnded: number; spansCrashed: number }[] = [];
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    const report = await recoverJournals({ journalDir, exporter, recoverAnyDestination: true, onBatch: (batch) => batches.push(batch) });
    // The refusals in the report itself, not read off the exporter, which other users may share.
    expect(report).toMatchObject({ journals: 1, spansEnded: 80, spansCrashed: 5, deadLettered: 15, failures: [] });
    expect(batches.reduce((sum, batch) => sum + batch.spansEnded, 0)).toBe(80);
    expect(batches.reduce((sum, batch) => sum + batch.spansCrashed, 0)).toBe(5);
  } finally {
    await exporter.shutdown();
  }
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'ended'`)).toBe(80);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`)).toBe(5);
  expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters`)).toBe(15);
});

// An accounting review: `otel-blackbox recover` stopped by the database going away said
// "recovered 0 journals (0 segments): 0 ended spans" after storing 4,608 rows.
test('a recovery a failure stops counts the batches that committed before it', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 3000);
  const exporter = new CollectingExporter();
  const exportOnce = exporter.export.bind(exporter);
  exporter.export = (spans, done) => {
    // The database goes away after two batches.
    if (exporter.calls === 2) exporter.failing = true;
    exportOnce(spans, done);
  };
  const report = await recoverJournals({ journalDir, exporter, maxExportBatchSize: 512, maxAttempts: 1 });
  expect(report).toMatchObject({ journals: 0, failures: [{ dir: dead.writerDir }] });
  expect(exporter.spans).toHaveLength(1024);
  expect(report.spansEnded + report.spansCrashed).toBe(1024);
});

// A review: inside an application, recovery's refusals were added to stats().deadLetters
// only once the whole recovery was done: for minutes on a long journal, recovered + crashed
// + dead letters did not add up, and never did when shutdown gave the recovery up.
test("inside an application, a recovery's dead letters count as each batch commits", async () => {
  const ownSchema = await db.freshSchema('refused_in_recovery_live');
  await migrateSchema(db.pool, ownSchema);
  await db.query(`ALTER TABLE "${ownSchema}".spans ADD CONSTRAINT refuses_some CHECK ((attributes->>'i')::int % 10 <> 5)`);
  const journalDir = join(tempDir(), 'journal');
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema: ownSchema });
  writeDeadJournal(journalDir, 2000, { destination: exporter.destination });
  // The first batch commits; the others wait, as behind a slow database.
  const held: (() => void)[] = [];
  const exportBatch = exporter.exportBatch.bind(exporter);
  let batches = 0;
  exporter.exportBatch = (batch, done) => (++batches === 1 ? exportBatch(batch, done) : void held.push(() => exportBatch(batch, done)));
  const processor = new JournalSpanProcessor({ exporter, journalDir, maxExportBatchSize: 200 });
  try {
    await expect.poll(() => processor.stats().spansRecovered, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(processor.stats()).toMatchObject({ recoveryRunning: true, deadLetters: exporter.deadLettered });
    expect(exporter.deadLettered).toBeGreaterThan(0);
    for (const release of held.splice(0)) release();
    exporter.exportBatch = exportBatch;
    await expect.poll(() => processor.stats().recoveryRunning, { timeout: 20_000 }).toBe(false);
    expect(processor.stats().deadLetters).toBe(exporter.deadLettered);
    expect(await db.count(`SELECT count(*) FROM "${ownSchema}".dead_letters`)).toBe(exporter.deadLettered);
  } finally {
    await processor.shutdown();
  }
});
