// Recovery sends batches of the size the processor would: OpenTelemetry's 512, behind an
// exporter that takes spans and logs in one transaction (PostgresSpanExporter) as behind
// any other (PostgresSpanExporter takes a batch to bound parameters in one turn of the
// event loop, which grows with the batch: see PROCESSOR_DEFAULTS). Counted at a real
// PostgresSpanExporter over a real journal; the rows are checked too.
import { join } from 'node:path';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, expect, test } from 'vitest';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import type { SpansAndLogs, SpansAndLogsExporter } from '../../src/export/SpansAndLogs.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
const exporters: PostgresSpanExporter[] = [];
afterAll(async () => {
  await Promise.all(exporters.map((exporter) => exporter.shutdown()));
  await db.close();
});

async function postgresExporter(label: string): Promise<{ schema: string; exporter: PostgresSpanExporter }> {
  const schema = await db.freshSchema(label);
  await migrateSchema(db.pool, schema);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  exporters.push(exporter);
  return { schema, exporter };
}

test('behind an exporter of spans and logs, batches are 512 spans by default', async () => {
  const { schema, exporter } = await postgresExporter('recovery_batch_postgres');
  const sizes: number[] = [];
  const counting: SpansAndLogsExporter = {
    export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => {
      sizes.push(spans.length);
      exporter.export(spans, done);
    },
    exportBatch: (batch: SpansAndLogs, done: (result: ExportResult) => void) => {
      sizes.push(batch.spans.length + batch.logs.length);
      exporter.exportBatch(batch, done);
    },
    shutdown: async () => {},
  };
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 5000);
  const report = await recoverJournals({ journalDir, exporter: counting });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
  expect(sizes).toEqual([...Array(9).fill(512), 392]);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(5000);
});

test('behind any other exporter, batches are 512 spans by default', async () => {
  const { schema, exporter } = await postgresExporter('recovery_batch_plain');
  const sizes: number[] = [];
  const plain: SpanExporter = {
    export: (spans, done) => {
      sizes.push(spans.length);
      exporter.export(spans, done);
    },
    shutdown: async () => {},
  };
  const journalDir = join(tempDir(), 'journal');
  writeDeadJournal(journalDir, 1100);
  await recoverJournals({ journalDir, exporter: plain });
  expect(sizes).toEqual([512, 512, 76]);
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(1100);
});

test('a batch also ends at MAX_BATCH_CHARS: records of megabytes are not sent 512 at a time', async () => {
  // Before: 40 spans of 2 MiB went in one batch (here 80 MiB; with 64 MiB records, gigabytes:
  // more than PostgreSQL takes in one message, failed and tried again for good).
  // (Reading them back took 34-43 s until the reader stopped scanning every chunk of a
  // large frame byte by byte: bench/large-records.mjs.)
  const sizes: number[] = [];
  const plain: SpanExporter = {
    export: (spans, done) => {
      sizes.push(spans.length);
      done({ code: 0 });
    },
    shutdown: async () => {},
  };
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 40, { padding: 2 * 1024 * 1024 });
  const report = await recoverJournals({ journalDir, exporter: plain });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
  expect(sizes.reduce((a, b) => a + b, 0)).toBe(40);
  expect(sizes.length).toBeGreaterThan(2);
  expect(Math.max(...sizes)).toBeLessThanOrEqual(9);
});
