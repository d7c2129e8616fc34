// Two services sharing one journalDir (the default '.otel-journal' in a shared working
// directory, or one OTEL_BLACKBOX_JOURNAL_DIR), each exporting to its own schema or
// database. Before, whichever started next recovered the other's dead journal into its own
// destination: the crash records that explain why one service died went to the other's
// tables (another tenant's, with separate databases), and nothing said so. Journals now
// name the destination their writer exported to, and recovery sends them nowhere else.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { InMemorySpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { exportTarget } from '../../src/export/exportDestination.js';
import { runFixture } from '../helpers/childProcess.js';
import { runCli } from '../helpers/cli.js';
import { collectDiag } from '../helpers/diagLines.js';
import { killed } from '../helpers/crashAssertions.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const crashingService = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schemaA: string;
let schemaB: string;

beforeAll(async () => {
  schemaA = await db.freshSchema('other_destination_a');
  schemaB = await db.freshSchema('other_destination_b');
});
afterAll(async () => {
  await db.close();
});

async function spanRows(schema: string): Promise<{ name: string; state: string }[]> {
  const exists = await db.pool.query(`SELECT to_regclass($1) AS t`, [`"${schema}".spans`]);
  if (exists.rows[0].t === null) return [];
  return (await db.pool.query(`SELECT name, state FROM "${schema}".spans ORDER BY name`)).rows;
}

test('a killed service: the service sharing its journalDir leaves its journal alone; recovery into its own schema writes its crash records there', async () => {
  const dir = tempDir();
  const journalDir = join(dir, 'journal');
  const child = runFixture(crashingService, {
    DATABASE_URL: db.url,
    SCHEMA: schemaA,
    JOURNAL_DIR: journalDir,
    LEDGER: join(dir, 'ledger.jsonl'),
    CRASH_MODE: 'sigkill',
    ENDED: '0',
    SERVICE: 'service-a',
  });
  await child.ready;
  await killed(child);

  const warnings = collectDiag();
  const exporterB = new PostgresSpanExporter({ connectionString: db.url, schema: schemaB });
  try {
    const report = await recoverJournals({ journalDir, exporter: exporterB });
    expect(report).toMatchObject({ journals: 0, otherDestinationJournals: 1, spansCrashed: 0, failures: [] });
    await recoverJournals({ journalDir, exporter: exporterB });
  } finally {
    await exporterB.shutdown();
  }
  expect(await spanRows(schemaB)).toEqual([]);
  expect(readdirSync(journalDir)).toHaveLength(1);
  const said = warnings.filter((line) => line.includes('its writer exported to'));
  expect(said).toHaveLength(1);
  expect(said[0]).toContain(`?schema=${schemaA}`);
  expect(said[0]).toContain(`?schema=${schemaB}`);

  const exporterA = new PostgresSpanExporter({ connectionString: db.url, schema: schemaA });
  try {
    const report = await recoverJournals({ journalDir, exporter: exporterA });
    expect(report).toMatchObject({ journals: 1, otherDestinationJournals: 0, spansCrashed: 3, failures: [] });
  } finally {
    await exporterA.shutdown();
  }
  expect((await spanRows(schemaA)).filter((row) => row.state === 'crashed')).toHaveLength(3);
  expect(await spanRows(schemaB)).toEqual([]);
});

test("a journal of an exporter that names no destination is not recovered into another service's PostgreSQL", async () => {
  // Two services share a journalDir: F exports over OTLP (here, an in-memory exporter),
  // A to PostgreSQL. F's journal named no destination, and A's recovery took it into A's
  // tables (a review: 21 of F's spans never reached F's collector, nothing said).
  const journalDir = join(tempDir(), 'journal');
  const otlpLike = new InMemorySpanExporter();
  writeDeadJournal(journalDir, 10, { openEvery: 5, ...exportTarget(otlpLike) });
  const warnings = collectDiag();
  const exporterA = new PostgresSpanExporter({ connectionString: db.url, schema: schemaB });
  try {
    expect(await recoverJournals({ journalDir, exporter: exporterA })).toMatchObject({ journals: 0, otherDestinationJournals: 1 });
  } finally {
    await exporterA.shutdown();
  }
  expect(warnings.filter((line) => line.includes('its writer exported to an exporter of class InMemorySpanExporter, which names no destination'))).toHaveLength(1);
  expect(await spanRows(schemaB)).toEqual([]);
  // F, restarted, recovers it; so would any recovery through an exporter that names no
  // destination (where either sends spans is not known), as before.
  const restarted = new (class ConsoleLikeExporter extends InMemorySpanExporter {})();
  expect(await recoverJournals({ journalDir, exporter: restarted })).toMatchObject({ journals: 1, spansCrashed: 2, otherDestinationJournals: 0 });
  expect(restarted.getFinishedSpans()).toHaveLength(10);
});

test('a processor whose exporter names no destination writes its class into every header, and no destination (an earlier version takes the journal as it always did)', async () => {
  const journalDir = join(tempDir(), 'journal');
  const processor = new JournalSpanProcessor({ exporter: new InMemorySpanExporter(), journalDir, recover: false });
  const provider = new TracerProvider({ spanProcessors: [processor] });
  provider.getTracer('t').startSpan('open while the header is read');
  const writerDir = join(journalDir, readdirSync(journalDir).find((name) => !name.includes('.'))!);
  const headers = segmentNames(writerDir).map((name) => readSegment(readFileSync(join(writerDir, name))).records.find((record) => record.type === RecordType.SegmentHeader)!.payload);
  expect(headers.length).toBeGreaterThan(0);
  for (const header of headers) {
    expect(header).toMatchObject({ noDestination: 'InMemorySpanExporter' });
    expect(header).not.toHaveProperty('destination');
  }
  await provider.shutdown();
});

test('a journal of an earlier version, which names no destination, is recovered by any; one that names one only by that one, or on request', async () => {
  const journalDir = join(tempDir(), 'journal');
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema: schemaB });
  try {
    expect(exporter.destination).toMatch(/^postgresql:\/\/[^@]+:\d+\/[^?]+\?schema=/);
    expect(exporter.destination).not.toContain('@');
    writeDeadJournal(journalDir, 10, { openEvery: 5 });
    expect(await recoverJournals({ journalDir, exporter })).toMatchObject({ journals: 1, spansCrashed: 2, otherDestinationJournals: 0 });

    writeDeadJournal(journalDir, 10, { openEvery: 5, destination: 'postgresql://elsewhere:5432/other?schema=otel' });
    expect(await recoverJournals({ journalDir, exporter })).toMatchObject({ journals: 0, otherDestinationJournals: 1 });
    expect(await recoverJournals({ journalDir, exporter, recoverAnyDestination: true })).toMatchObject({ journals: 1, spansCrashed: 2 });
  } finally {
    await exporter.shutdown();
  }
});

test('the CLI leaves a journal of another schema alone, says so, and recovers it with --recover-any-destination', async () => {
  const journalDir = join(tempDir(), 'journal');
  const probe = new PostgresSpanExporter({ connectionString: db.url, schema: schemaA });
  const destinationA = probe.destination;
  await probe.shutdown();
  writeDeadJournal(journalDir, 10, { openEvery: 5, destination: destinationA });
  const run = (...args: string[]) => runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', journalDir, '--schema', schemaB, ...args);
  const refused = await run();
  // A dead journal left alone is not recovered: exit 1, and diag (on stderr) names both destinations.
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain('1 journals written for another destination (database, schema, or an exporter that names none) left alone (--recover-any-destination)');
  expect(refused.stderr).toContain(destinationA);
  const taken = await run('--recover-any-destination', '--json');
  expect(taken.code).toBe(0);
  expect(JSON.parse(taken.stdout)).toMatchObject({ journals: 1, spansCrashed: 2, otherDestinationJournals: 0 });
});
