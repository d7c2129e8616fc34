// A span the exporter refuses for good, end to end with a real journal: behind a generic
// exporter (an OTLP collector answering 413 for one span) it is isolated, dropped, counted
// and said, and the spans after it are delivered and committed (review, repro 16: 2 of 50
// later spans delivered, the stock BatchSpanProcessor 50 of 50). Behind PostgresSpanExporter
// the same span never comes near that path: the exporter dead-letters it itself.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { beforeAll, expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { REFUSED_SPANS_REASON } from '../../src/processor/ExportLoop.js';
import { OVERFLOW_SPAN_NAME } from '../../src/spanMarkers.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'refused_spans', (name) => (schema = name));
beforeAll(() => db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT test_no_poison CHECK (name <> 'poison')`));

/** Refuses every call that carries a span named 'poison'; keeps the names of what it accepts. */
class Collector implements SpanExporter {
  readonly names: string[] = [];
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    setImmediate(() => {
      if (spans.some((span) => span.name === 'poison')) return resultCallback({ code: ExportResultCode.FAILED, error: new Error('413 Payload Too Large (test)') });
      this.names.push(...spans.map((span) => span.name));
      resultCallback({ code: ExportResultCode.SUCCESS });
    });
  }
  async shutdown(): Promise<void> {}
}

/** Ends 'poison', then an ordinary span every few milliseconds until `done()` says enough. */
async function poisonThenTraffic(processor: JournalSpanProcessor, done: () => boolean | Promise<boolean>): Promise<string[]> {
  const tracer = providerWith(processor, 'refused-spans').getTracer('t');
  tracer.startSpan('before').end();
  tracer.startSpan('poison').end();
  const after: string[] = [];
  for (let i = 0; i < 2000 && !(await done()); i++) {
    after.push(`after-${i}`);
    tracer.startSpan(`after-${i}`).end();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return after;
}

test('behind a generic exporter: the refused span is dropped and counted, every span after it delivered and committed', async () => {
  const exporter = new Collector();
  const processor = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, scheduledDelayMillis: 20, flushTimeoutMillis: 10_000 });
  const after = await poisonThenTraffic(processor, () => processor.stats().spansDroppedByReason[REFUSED_SPANS_REASON] === 1);
  await processor.forceFlush();
  expect(exporter.names.filter((name) => name !== OVERFLOW_SPAN_NAME).sort()).toEqual(['before', ...after].sort());
  expect(exporter.names).toContain(OVERFLOW_SPAN_NAME);
  expect(processor.stats()).toMatchObject({ spansDropped: 1, spansDroppedByReason: { [REFUSED_SPANS_REASON]: 1 }, journalBacklog: 0 });
  await processor.shutdown();
});

test('behind PostgresSpanExporter: the refused span is dead-lettered by the exporter, nothing is dropped by the loop', async () => {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const processor = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, scheduledDelayMillis: 20 });
  let rounds = 0;
  const after = await poisonThenTraffic(processor, () => ++rounds > 20);
  await processor.forceFlush();
  expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters`)).toBe(1);
  const stored = await db.count(`SELECT count(*) FROM "${schema}".spans WHERE service_name = 'refused-spans'`);
  expect(stored).toBe(1 + after.length);
  expect(processor.stats()).toMatchObject({ spansDropped: 0, deadLetters: 1, journalBacklog: 0 });
  await processor.shutdown();
});
