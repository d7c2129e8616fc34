// Faults on the database path, through a TCP proxy: connections cut at each point of the
// transaction, a database too slow for the export timeout, and poison records. Every span
// ends up committed exactly once, with its trace row and its events, and nothing stalls.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { TcpProxy } from '../helpers/TcpProxy.mjs';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
beforeAll(async () => {
  schema = await db.freshSchema('database_faults');
  await migrateSchema(db.pool, schema);
  await db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT test_no_poison CHECK (name <> 'poison')`);
});
afterAll(() => db.close());

async function pipelineThrough(proxy: TcpProxy, service: string, options: { exportTimeoutMillis?: number } = {}) {
  const exporter = new PostgresSpanExporter({ connectionString: proxy.urlFor(db.url), schema, migrate: false });
  const processor = new JournalSpanProcessor({
    exporter,
    journalDir: join(tempDir(), 'journal'),
    maxExportBatchSize: 100,
    scheduledDelayMillis: 10,
    flushTimeoutMillis: 60_000,
    ...options,
  });
  const provider = providerWith(processor, service);
  return { processor, provider, tracer: provider.getTracer('faults') };
}

async function expectExactlyOnce(service: string, spans: number): Promise<void> {
  const [row] = await db.query<{ total: number; distinct: number; events: number; orphan_spans: number; orphan_logs: number }>(
    `SELECT (SELECT count(*)::int FROM "${schema}".spans WHERE service_name = $1) AS total,
            (SELECT count(DISTINCT (trace_id, span_id))::int FROM "${schema}".spans WHERE service_name = $1) AS distinct,
            (SELECT count(*)::int FROM "${schema}".logs l JOIN "${schema}".spans s USING (trace_id, span_id) WHERE s.service_name = $1) AS events,
            (SELECT count(*)::int FROM "${schema}".spans s WHERE NOT EXISTS (SELECT 1 FROM "${schema}".traces t WHERE t.trace_id = s.trace_id)) AS orphan_spans,
            (SELECT count(*)::int FROM "${schema}".logs l WHERE NOT EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = l.trace_id AND s.span_id = l.span_id)) AS orphan_logs`,
    [service],
  );
  expect(row).toEqual({ total: spans, distinct: spans, events: spans, orphan_spans: 0, orphan_logs: 0 });
}

const cutPoints = [
  { point: 'BEGIN', text: () => 'BEGIN', afterForwarding: false },
  { point: 'the traces statement', text: () => `"${schema}".traces`, afterForwarding: false },
  { point: 'the spans statement', text: () => `"${schema}".spans`, afterForwarding: false },
  { point: 'the logs statement', text: () => `"${schema}".logs`, afterForwarding: false },
  { point: 'COMMIT, before PostgreSQL has it', text: () => 'COMMIT', afterForwarding: false },
  { point: 'COMMIT, applied but its reply lost', text: () => 'COMMIT', afterForwarding: true },
];

describe.each(cutPoints)('a connection cut at $point, in 12 of 40 batches', ({ point, text, afterForwarding }) => {
  test('every span is committed exactly once, with its trace and its event', async () => {
    const proxy = await TcpProxy.create(db.url);
    await proxy.listen();
    proxy.cutOn(text(), { times: 12, afterForwarding });
    const service = `cut-${point.replace(/\W+/g, '-')}`;
    const { processor, provider, tracer } = await pipelineThrough(proxy, service);
    for (let i = 0; i < 4000; i++) {
      const span = tracer.startSpan(`op-${i % 7}`, { attributes: { i } });
      span.addEvent('did work', { i });
      span.end();
    }
    await processor.forceFlush();
    expect(proxy.cuts).toBe(12);
    expect(processor.stats().exportFailures).toBeGreaterThanOrEqual(12);
    await expectExactlyOnce(service, 4000);
    await provider.shutdown();
    await proxy.refuse();
  });
});

// Each call outlives exportTimeoutMillis and then succeeds: its late success is awaited
// (a few seconds at most), so batches commit while the database is slow, once each, and a
// late success is no failure (it was counted in exportFailures and said before).
test('a database slower than the export timeout: late successes commit each batch once, while it is slow and once it speeds up', async () => {
  const proxy = await TcpProxy.create(db.url);
  await proxy.listen();
  proxy.delayMillis = 400;
  const { processor, provider, tracer } = await pipelineThrough(proxy, 'slow-database', { exportTimeoutMillis: 150 });
  for (let i = 0; i < 1000; i++) {
    const span = tracer.startSpan('slow', { attributes: { i } });
    span.addEvent('waited');
    span.end();
  }
  await expect.poll(() => processor.stats().spansExported, { timeout: 30_000 }).toBeGreaterThan(0);
  proxy.delayMillis = 0;
  await processor.forceFlush();
  await expectExactlyOnce('slow-database', 1000);
  await provider.shutdown();
  await proxy.refuse();
});

test('poison records, 1 in 1,000: each is dead-lettered with its error, every other span commits, nothing stalls', async () => {
  const proxy = await TcpProxy.create(db.url);
  await proxy.listen();
  const { processor, provider, tracer } = await pipelineThrough(proxy, 'poison-stream');
  const poisonIds: string[] = [];
  for (let i = 0; i < 10_000; i++) {
    const poison = i % 1000 === 999;
    const span = tracer.startSpan(poison ? 'poison' : 'healthy', { attributes: { i } });
    span.addEvent('did work');
    span.end();
    if (poison) poisonIds.push(span.spanContext().spanId);
  }
  await processor.forceFlush();
  await expectExactlyOnce('poison-stream', 9_990);
  const dead = await db.query<{ span_id: string; sql_state: string; error_message: string }>(
    `SELECT span_id, sql_state, error_message FROM "${schema}".dead_letters WHERE span_id = ANY($1)`,
    [poisonIds],
  );
  expect(dead.map((row) => row.span_id).sort()).toEqual([...poisonIds].sort());
  for (const row of dead) {
    expect(row.sql_state).toBe('23514');
    expect(row.error_message).toContain('test_no_poison');
  }
  expect(processor.stats().spansDropped).toBe(0);
  await provider.shutdown();
  await proxy.refuse();
});
