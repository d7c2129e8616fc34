// The schema's tables in a publication (change data capture, an upgrade by logical
// replication): PostgreSQL refuses UPDATE and DELETE on a published table without a
// replica identity (55000). logs and dead_letters have no primary key, so the removal of a
// span's stored events, when its final row replaces them, failed its batch at every retry
// and held export up for good, and prune failed outright (an attack). Migration 7 gives
// them the whole row as replica identity.
import { ExportResultCode } from '@opentelemetry/core';
import { TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSpanExporter } from '../../src/index.js';
import { pruneSchema } from '../../src/postgres/prune.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { exportSpans, TEST_RESOURCE } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'published', (name) => (schema = name));
const publication = `otel_blackbox_test_${process.pid}`;

beforeAll(async () => {
  await db.query(`CREATE PUBLICATION ${publication} FOR TABLES IN SCHEMA "${schema}"`);
});
afterAll(async () => {
  await db.query(`DROP PUBLICATION IF EXISTS ${publication}`);
});

test('a span whose final row replaces its stored events, and a prune, go through while the tables are published', async () => {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, migrate: false });
  try {
    // Past its event limit the SDK drops the oldest event: the final row's events replace
    // the stored ones (a DELETE of the span's events in the batch).
    const tracer = new TracerProvider({ resource: TEST_RESOURCE, spanLimits: { eventCountLimit: 2 } }).getTracer('published');
    const span = tracer.startSpan('drops events');
    span.addEvent('e0');
    span.addEvent('e1');
    const first = await exportSpans(exporter, [{ ...(span as unknown as ReadableSpan), events: [...(span as unknown as ReadableSpan).events] } as ReadableSpan]);
    expect(first.code).toBe(ExportResultCode.SUCCESS);
    span.addEvent('e2');
    span.end();
    const final = await exportSpans(exporter, [span as unknown as ReadableSpan]);
    expect(final.error?.message).toBeUndefined();
    expect(final.code).toBe(ExportResultCode.SUCCESS);
    expect((await db.query<{ event_name: string }>(`SELECT event_name FROM "${schema}".logs ORDER BY event_index`)).map((row) => row.event_name)).toEqual(['e1', 'e2']);

    const report = await pruneSchema(db.pool, schema, { olderThan: new Date(Date.now() + 60_000) });
    expect(report.traces).toBe(1);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs`)).toBe(0);
  } finally {
    await exporter.shutdown();
  }
});
