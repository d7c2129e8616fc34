// Rows PostgreSQL refuses for good go to PostgresSpanExporter's dead_letters table, and the
// batch commits without them: the processor's counts of what was exported leave them out,
// as they leave out what another exporter refused (test/export/refusedForGood.test.ts).
// Before, stats() counted them twice: in spansExported and logRecordsExported, and in deadLetters.
import { context, trace } from '@opentelemetry/api';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('exporter_refusals');
  await migrateSchema(db.pool, schema);
  // Stand in for any value PostgreSQL refuses for one record (as in deadLetters.test.ts).
  await db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT no_poison CHECK (NOT attributes ? 'poison')`);
  await db.query(`ALTER TABLE "${schema}".logs ADD CONSTRAINT no_poison CHECK (NOT attributes ? 'poison')`);
});
afterAll(() => db.close());

describe('PostgresSpanExporter refuses rows of a batch', () => {
  test('spansExported and logRecordsExported count only the rows that were committed', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
    const provider = providerWith(processor, 'refusals');
    const logs = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
    const logger = logs.getLogger('refusals');
    const tracer = provider.getTracer('refusals');
    try {
      tracer.startSpan('refused', { attributes: { poison: true } }).end();
      const accepted = tracer.startSpan('accepted');
      logger.emit({ body: 'kept', context: trace.setSpan(context.active(), accepted) });
      logger.emit({ body: 'refused', attributes: { poison: 1 }, context: trace.setSpan(context.active(), accepted) });
      accepted.end();
      // Still open at the flush: its log record brings a 'started' row, which PostgreSQL refuses, and the log record with it.
      const open = tracer.startSpan('open and refused', { attributes: { poison: true } });
      logger.emit({ body: 'in the refused span', context: trace.setSpan(context.active(), open) });
      await processor.forceFlush();

      expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE service_name = 'refusals'`)).toBe(1);
      expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE body = '"kept"'`)).toBe(1);
      expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters`)).toBe(4);
      expect(processor.stats()).toMatchObject({ spansExported: 1, logRecordsExported: 1, deadLetters: 4 });

      // Its end is refused too: an ended span that was not exported.
      open.end();
      await processor.forceFlush();
      expect(processor.stats()).toMatchObject({ spansExported: 1, logRecordsExported: 1 });
      expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters WHERE kind = 'span'`)).toBe(2);
    } finally {
      await logs.shutdown();
      await provider.shutdown();
    }
  });

  test('a span with upper-case ids (valid, as B3 or Jaeger propagation may bring them) is not counted exported when refused', async () => {
    // The database keys ids in lower case: the refusal named the row, the processor looked for the span.
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20, recover: false });
    const hex = (length: number) => Array.from({ length }, () => 'ABCDEF0123456789'[Math.floor(Math.random() * 16)]).join('');
    const provider = new TracerProvider({ spanProcessors: [processor], idGenerator: { generateTraceId: () => hex(32), generateSpanId: () => hex(16) } });
    try {
      provider.getTracer('upper').startSpan('refused, upper-case ids', { attributes: { poison: true } }).end();
      provider.getTracer('upper').startSpan('kept, upper-case ids').end();
      await processor.forceFlush();
      expect(processor.stats()).toMatchObject({ spansExported: 1 });
    } finally {
      await provider.shutdown();
    }
  });

  test('processors sharing one exporter count only the dead letters of their own records', async () => {
    // A TracerProvider per tenant over one pool: each stats().deadLetters read the
    // exporter's count, so a dashboard summing the processors counted each refusal twice.
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const refusing = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'refusing'), scheduledDelayMillis: 20, recover: false });
    const clean = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'clean'), scheduledDelayMillis: 20, recover: false });
    const refusingProvider = providerWith(refusing, 'tenant-refused');
    const cleanProvider = providerWith(clean, 'tenant-clean');
    try {
      for (let i = 0; i < 3; i++) refusingProvider.getTracer('t').startSpan('refused', { attributes: { poison: true } }).end();
      refusingProvider.getTracer('t').startSpan('kept').end();
      cleanProvider.getTracer('t').startSpan('kept').end();
      await Promise.all([refusing.forceFlush(), clean.forceFlush()]);
      expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE service_name IN ('tenant-refused', 'tenant-clean')`)).toBe(2);
      expect(refusing.stats()).toMatchObject({ spansExported: 1, deadLetters: 3 });
      expect(clean.stats()).toMatchObject({ spansExported: 1, deadLetters: 0 });
    } finally {
      await refusingProvider.shutdown();
      await cleanProvider.shutdown();
    }
  });

  // A review: a span open longer than pendingSpanMillis that logged is carried twice in one
  // batch (its pending 'started' row, and the one its log record brings), made one row; its
  // refusal counted by positions was two dead letters in stats() for one in the table.
  test("a long-open span's refused row, carried twice in one batch, counts once", async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 60_000, pendingSpanMillis: 100, recover: false });
    const provider = providerWith(processor, 'long-open-refused');
    const logs = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
    const longJob = provider.getTracer('t').startSpan('long job', { attributes: { poison: true } });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      logs.getLogger('t').emit({ body: 'in the long job', context: trace.setSpan(context.active(), longJob) });
      await processor.forceFlush();
      // The span's row and its log record: one dead letter each.
      expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters WHERE trace_id = $1`, [longJob.spanContext().traceId])).toBe(2);
      expect(exporter.deadLettered).toBe(2);
      expect(processor.stats().deadLetters).toBe(2);
    } finally {
      longJob.end();
      await logs.shutdown();
      await provider.shutdown();
    }
  });

  test('the batch carries the refusals back whichever copy of the package made its receipt (the ESM and CommonJS builds)', async () => {
    // Read through a private field, the receipt of the other build threw after COMMIT: the
    // committed batch was reported FAILED, and retried for good.
    const { RefusedRecords: OtherBuildsRefusedRecords } = createRequire(import.meta.url)('../../dist/cjs/export/SpansAndLogs.js');
    const receipt = new OtherBuildsRefusedRecords();
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const memory = new TracerProvider({ spanProcessors: [] });
    const span = memory.getTracer('t').startSpan('refused through the other build', { attributes: { poison: true } });
    span.end();
    try {
      const result = await new Promise<ExportResult>((resolve) => exporter.exportBatch({ spans: [span as never], logs: [], refused: receipt }, resolve));
      expect(result.code).toBe(ExportResultCode.SUCCESS);
      expect(receipt.spanPositions).toEqual([0]);
    } finally {
      await exporter.shutdown();
    }
  });
});
