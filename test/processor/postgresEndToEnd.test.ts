// JournalSpanProcessor + PostgresSpanExporter against a real PostgreSQL.
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { TcpProxy } from '../helpers/TcpProxy.mjs';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'processor_end_to_end', (name) => (schema = name));

async function spansOf(service: string): Promise<{ total: number; distinct: number }> {
  const [row] = await db.query<{ total: string; distinct: string }>(
    `SELECT count(*) AS total, count(DISTINCT (trace_id, span_id)) AS distinct FROM "${schema}".spans WHERE service_name = $1`,
    [service],
  );
  return { total: Number(row.total), distinct: Number(row.distinct) };
}

describe('JournalSpanProcessor into PostgreSQL', () => {
  test('100,000 spans arrive, each exactly once, with their events', async () => {
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal') });
    const provider = providerWith(processor, 'hundred-k');
    const tracer = provider.getTracer('e2e');
    for (let i = 0; i < 100_000; i++) {
      const span = tracer.startSpan('GET /item', { attributes: { 'http.route': '/item/:id', 'item.id': i } });
      if (i % 10 === 0) span.addEvent('cache miss', { key: `item:${i}` });
      span.end();
    }
    await provider.shutdown();
    expect(await spansOf('hundred-k')).toEqual({ total: 100_000, distinct: 100_000 });
    const events = await db.count(
      `SELECT count(*) FROM "${schema}".logs l JOIN "${schema}".spans s USING (trace_id, span_id) WHERE s.service_name = 'hundred-k'`,
    );
    expect(events).toBe(10_000);
    expect(processor.stats().spansDropped).toBe(0);
  });

  test('PostgreSQL unreachable for part of the run: every span arrives once it is back', async () => {
    const proxy = await TcpProxy.create(db.url);
    const exporter = new PostgresSpanExporter({ connectionString: proxy.urlFor(db.url), schema });
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), scheduledDelayMillis: 20 });
    const provider = providerWith(processor, 'outage');
    const tracer = provider.getTracer('e2e');
    const produce = (count: number) => {
      for (let i = 0; i < count; i++) tracer.startSpan('during outage', { attributes: { i } }).end();
    };
    produce(5000);
    // Nothing can be committed while the port refuses: the backlog waits in the journal.
    await expect.poll(() => processor.stats().exportFailures).toBeGreaterThan(1);
    expect(processor.stats().spansExported).toBe(0);
    expect(processor.stats().journalBytes).toBeGreaterThan(5000 * 100);
    expect(await spansOf('outage')).toEqual({ total: 0, distinct: 0 });

    await proxy.listen();
    produce(5000);
    await processor.forceFlush();
    expect(await spansOf('outage')).toEqual({ total: 10_000, distinct: 10_000 });

    await proxy.refuse();
    produce(2000);
    await proxy.listen();
    await provider.shutdown();
    expect(await spansOf('outage')).toEqual({ total: 12_000, distinct: 12_000 });
    expect(processor.stats().spansDropped).toBe(0);
    await proxy.refuse();
  });
});
