// Many exports at once, as the stock BatchSpanProcessor's forceFlush starts them: each
// gets its own connection from the pool (or waits for one), and every span is committed.
import { context, trace, type Tracer } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { TracerProvider as BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, recordSpans, TEST_RESOURCE } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('concurrency');
});

afterAll(async () => {
  await db.close();
});

/**
 * 5,000 spans in 10 traces, ended round-robin, so every batch of 100 touches every trace
 * row and concurrent transactions contend for the same rows.
 */
function startInterleavedTraces(tracer: Tracer, label: string): void {
  const roots = Array.from({ length: 10 }, (_, t) => tracer.startSpan(`${label}-root-${t}`));
  for (let i = 0; i < 4_990; i++) {
    const root = roots[i % 10]!;
    const span = tracer.startSpan(`${label}-${i}`, { attributes: { i } }, trace.setSpan(context.active(), root));
    span.addEvent('done');
    span.end();
  }
  for (const root of roots) root.end();
}

async function countSpans(label: string): Promise<{ spans: number; logs: number; traces: number }> {
  const [row] = await db.query(
    `SELECT (SELECT count(*) FROM "${schema}".spans WHERE name LIKE $1) AS spans,
            (SELECT count(*) FROM "${schema}".logs l JOIN "${schema}".spans s USING (trace_id, span_id) WHERE s.name LIKE $1) AS logs,
            (SELECT count(*) FROM "${schema}".traces WHERE root_span_name LIKE $1) AS traces`,
    [`${label}-%`],
  );
  return { spans: Number(row!.spans), logs: Number(row!.logs), traces: Number(row!.traces) };
}

describe('concurrent exports', () => {
  it('commits all 5,000 spans of 50 exports started at once', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const spans = await recordSpans((tracer) => startInterleavedTraces(tracer, 'direct'));
    const batches = Array.from({ length: 50 }, (_, b) => spans.slice(b * 100, b * 100 + 100));

    const results = await Promise.all(batches.map((batch) => exportSpans(exporter, batch)));
    await exporter.shutdown();

    expect(results.filter((r) => r.code === ExportResultCode.SUCCESS)).toHaveLength(50);
    expect(await countSpans('direct')).toEqual({ spans: 5_000, logs: 4_990, traces: 10 });
  });

  it('commits all 5,000 spans through BatchSpanProcessor.forceFlush()', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new BatchSpanProcessor({ exporter, maxQueueSize: 10_000, maxExportBatchSize: 100, scheduledDelayMillis: 60_000 });
    const provider = new BasicTracerProvider({ resource: TEST_RESOURCE, spanProcessors: [processor] });

    startInterleavedTraces(provider.getTracer('concurrency'), 'bsp');
    await provider.forceFlush();
    await provider.shutdown();

    expect(await countSpans('bsp')).toEqual({ spans: 5_000, logs: 4_990, traces: 10 });
  });
});
