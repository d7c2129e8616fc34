// Two batches committed at once, each holding the spans of some traces and log records of
// spans in the other's traces (spans it does not carry: each gets a stand-in row, and its
// trace a tentative row). The stand-ins' traces were added after the batch's others, out
// of the sorted order the traces statement locks in, and the two batches deadlocked on
// traces (a soak: 16 times in the drains after outages, each a second lost and a false
// "export failed"; 7 of 40 batches in its reproduction). Both commit now, every time.
import { trace, ROOT_CONTEXT, type SpanContext } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { exportBatch, logRecords } from './logFixtures.js';
import { recordSpans } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;
useMigratedSchema(db, 'crossing_batches', (name) => (schema = name));
beforeAll(() => {
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
});
afterAll(() => exporter.shutdown());

const hex = (n: number, length: number) => n.toString(16).padStart(length, '0');

/** One ended span in each trace. */
function spansIn(traceIds: string[]) {
  return recordSpans((tracer) => {
    for (const traceId of traceIds) {
      tracer.startSpan('request', {}, trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'a'.repeat(16), traceFlags: 1, isRemote: true })).end();
    }
  });
}

/** One log record in a span of each trace that no batch carries. */
function logsIn(traceIds: string[]) {
  return logRecords(traceIds.map((traceId, i): { record: { body: string }; in: SpanContext } => ({ record: { body: 'line' }, in: { traceId, spanId: hex(i + 1, 16), traceFlags: 1 } })));
}

test("two batches with each other's log records both commit: their traces are locked in one order", async () => {
  const outcomes: ExportResult[] = [];
  for (let round = 0; round < 20; round++) {
    // Interleaved ids, so neither batch's traces all sort before the other's.
    const a = Array.from({ length: 100 }, (_, i) => hex(round * 1_000_000 + i * 2 + 1, 32));
    const b = Array.from({ length: 100 }, (_, i) => hex(round * 1_000_000 + i * 2 + 2, 32));
    const [spansA, spansB, logsA, logsB] = await Promise.all([spansIn(a), spansIn(b), logsIn(a), logsIn(b)]);
    outcomes.push(...(await Promise.all([exportBatch(exporter, spansB, logsA), exportBatch(exporter, spansA, logsB)])));
  }
  expect(outcomes.map((outcome) => outcome.error?.message).filter((message) => message !== undefined)).toEqual([]);
  expect(outcomes.every((outcome) => outcome.code === ExportResultCode.SUCCESS)).toBe(true);
  expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE kind = 'log'`)).toBe(20 * 200);
}, 120_000);
