// A logger's scope attributes (`getLogger(name, version, { attributes })`, OTLP's
// InstrumentationScope.attributes) reach the logs table's scope_attributes (migration 8):
// live, and recovered from a dead journal. Before, they reached a logExporter only, and
// PostgreSQL lost them (a differential review on the 3.x line).
import { ExportResultCode } from '@opentelemetry/core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { RESOURCE_JSON_CHARS } from '../../src/postgres/boundedResource.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { TEST_RESOURCE } from './spanFixtures.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('log_scope_attributes');
  await migrateSchema(db.pool, schema);
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

const scopeAttributesOf = (writerId: string) =>
  db.query(`SELECT body #>> '{}' AS body, scope_attributes FROM "${schema}".logs WHERE writer_id = $1 ORDER BY sequence`, [writerId]);

describe("a logger's scope attributes", () => {
  it('are stored with each of its records, two loggers of one name told apart by them, and null where a logger has none', async () => {
    const acme = await logRecords([{ record: { body: 'acme' } }], TEST_RESOURCE, { attributes: { tenant: 'acme', 'deployment.ring': 2, canary: true } });
    const globex = await logRecords([{ record: { body: 'globex' } }], TEST_RESOURCE, { attributes: { tenant: 'globex' } });
    const none = await logRecords([{ record: { body: 'none' } }]);
    const empty = await logRecords([{ record: { body: 'empty' } }], TEST_RESOURCE, { attributes: {} });
    const batch = [acme, globex, none, empty].map(([record]) => ({ ...record!, writerId: acme[0]!.writerId }));
    batch.forEach((record, sequence) => (record.sequence = sequence));
    expect(await exportBatch(exporter, [], batch)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await scopeAttributesOf(acme[0]!.writerId)).toEqual([
      { body: 'acme', scope_attributes: { tenant: 'acme', 'deployment.ring': 2, canary: true } },
      { body: 'globex', scope_attributes: { tenant: 'globex' } },
      { body: 'none', scope_attributes: null },
      { body: 'empty', scope_attributes: null },
    ]);
  });

  it('are cut as a resource is when they are larger than a row should carry, with a marker that says so', async () => {
    const attributes = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key.${i}`, 'v'.repeat(2000)]));
    const logs = await logRecords([{ record: { body: 'bulky scope' } }], TEST_RESOURCE, { attributes });
    expect(await exportBatch(exporter, [], logs)).toEqual({ code: ExportResultCode.SUCCESS });
    const [row] = await scopeAttributesOf(logs[0]!.writerId);
    const stored = row!.scope_attributes as Record<string, string>;
    expect(stored['otel_blackbox.scope.cut']).toMatch(/^\d+ of 100 attributes kept, values cut past 1024 characters$/);
    expect(JSON.stringify(stored).length).toBeLessThanOrEqual(RESOURCE_JSON_CHARS + 200);
    expect(stored['key.0']!.length).toBeLessThan(2000);
  });

  // An attack with hand-made records: a map whose keys throw when read made every record of
  // its logger a dead letter without its body; a string was journaled as a map of its characters.
  it('are none where a scope holds no map of them: a map whose keys throw, a string, an array', async () => {
    const throwing = new Proxy({}, { ownKeys: () => { throw new Error('ownKeys boom'); } });
    const [template] = await logRecords([{ record: { body: 'hand-made' } }]);
    const batch = [throwing, 'not a map', ['a', 'b']].map((attributes, sequence) => ({
      writerId: template!.writerId,
      sequence,
      logRecord: { ...template!.logRecord, body: `hand-made ${sequence}`, instrumentationScope: { name: 'hand-made', attributes } } as never,
    }));
    expect(await exportBatch(exporter, [], batch)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await scopeAttributesOf(template!.writerId)).toEqual([
      { body: 'hand-made 0', scope_attributes: null },
      { body: 'hand-made 1', scope_attributes: null },
      { body: 'hand-made 2', scope_attributes: null },
    ]);
    // Through the journal too: read back, none of them became a map.
    const spans = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: db.url, schema }), journalDir: tempDir(), recover: false, scheduledDelayMillis: 10 });
    const logs = new JournalLogRecordProcessor({ spanProcessor: spans });
    for (const [i, attributes] of [throwing, 'not a map', ['a', 'b']].entries()) {
      // A map body: the record goes out as the journal holds it, read back.
      logs.onEmit({ ...template!.logRecord, body: { journaled: i }, instrumentationScope: { name: 'hand-made-journaled', attributes } } as never);
    }
    await spans.forceFlush();
    const rows = await db.query(`SELECT scope_attributes FROM "${schema}".logs WHERE scope_name = 'hand-made-journaled'`);
    expect(rows).toEqual([{ scope_attributes: null }, { scope_attributes: null }, { scope_attributes: null }]);
    await spans.shutdown();
  });

  it('are stored from a dead journal, as its logger gave them', async () => {
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 10, { logs: 4, loggerAttributes: { tenant: 'initech', shard: 7 } });
    const report = await recoverJournals({ journalDir, exporter });
    expect(report.logRecords).toBe(dead.logs);
    const writerId = dead.writerDir.split('/').pop()!;
    const rows = await scopeAttributesOf(writerId);
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.scope_attributes).toEqual({ tenant: 'initech', shard: 7 });
  });
});
