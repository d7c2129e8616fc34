// One PostgresSpanExporter given to two processors (two TracerProviders of one
// application). The first processor's shutdown shut the exporter down under the second,
// whose batches then failed with "PostgresSpanExporter is shut down" at every retry: its
// shutdown took its whole flush timeout and left its spans in the journal (an attack: 25 s,
// 200 of 200 spans). The exporter is now shut down with the last processor that uses it.
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'shared_exporter', (name) => (schema = name));

/** A PostgresSpanExporter, and how often its shutdown() was called. */
function countingShutdowns() {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  let calls = 0;
  const shutdown = exporter.shutdown.bind(exporter);
  exporter.shutdown = () => {
    calls += 1;
    return shutdown();
  };
  return { exporter, shutdowns: () => calls };
}

describe('one exporter, two processors', () => {
  test("the first processor's shutdown leaves the exporter to the second, which exports all of its spans; the last shuts it down", async () => {
    const { exporter, shutdowns } = countingShutdowns();
    const options = { exporter, recover: false, scheduledDelayMillis: 60_000, flushTimeoutMillis: 10_000 };
    const first = new JournalSpanProcessor({ ...options, journalDir: tempDir() });
    const second = new JournalSpanProcessor({ ...options, journalDir: tempDir() });
    const tracerOf = (processor: JournalSpanProcessor, name: string) => providerWith(processor, name).getTracer('t');
    const a = tracerOf(first, 'first');
    const b = tracerOf(second, 'second');
    for (let i = 0; i < 50; i++) a.startSpan(`a${i}`).end();
    for (let i = 0; i < 50; i++) b.startSpan(`b before ${i}`).end();

    await first.shutdown();
    expect(shutdowns()).toBe(0);
    for (let i = 0; i < 50; i++) b.startSpan(`b after ${i}`).end();
    await second.shutdown();
    expect(shutdowns()).toBe(1);
    expect(second.stats()).toMatchObject({ spansExported: 100, exportFailures: 0 });

    const { rows } = await db.pool.query(`SELECT service_name, count(*)::int AS n FROM "${schema}".spans GROUP BY 1 ORDER BY 1`);
    expect(rows).toEqual([
      { service_name: 'first', n: 50 },
      { service_name: 'second', n: 100 },
    ]);
  });

  test('across the two builds (CommonJS beside ESM) too: one count for both', async () => {
    const cjs = createRequire(import.meta.url)('../../dist/cjs/index.js') as typeof import('../../src/index.js');
    const { exporter, shutdowns } = countingShutdowns();
    const options = { exporter, recover: false, scheduledDelayMillis: 60_000, flushTimeoutMillis: 10_000 };
    const esm = new JournalSpanProcessor({ ...options, journalDir: tempDir() });
    const commonJs = new cjs.JournalSpanProcessor({ ...options, exporter: exporter as never, journalDir: tempDir() });
    const tracer = providerWith(commonJs as never, 'common-js').getTracer('t');
    await esm.shutdown();
    expect(shutdowns()).toBe(0);
    for (let i = 0; i < 10; i++) tracer.startSpan(`after ${i}`).end();
    await commonJs.shutdown();
    expect(shutdowns()).toBe(1);
    expect(commonJs.stats()).toMatchObject({ spansExported: 10, exportFailures: 0 });
  });
});
