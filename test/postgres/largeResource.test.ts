// A resource's columns go into every span and log row of its process: a large one is
// multiplied by the batch. A 20 MB `service.name` made a batch of 58 spans a message of over
// 1 GB, which PostgreSQL refuses at every attempt (an attack; 2 MB of resource is 1 GB for a
// batch of 512). What is stored of a resource is bounded, and says it was cut.
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { ATTR_RESOURCE_CUT, RESOURCE_JSON_CHARS, TEXT_CHARS } from '../../src/postgres/boundedResource.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, recordSpans } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('large_resource');
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

test('a resource of megabytes is stored cut, in every row, with how large it was; a small one whole', async () => {
  const huge = 's'.repeat(300_000);
  const attributes: Record<string, string | number> = { 'service.name': huge, 'host.name': 'web-1', 'process.pid': 7 };
  for (let i = 0; i < 2000; i++) attributes[`k${i}`] = 'v'.repeat(100);
  const spans = await recordSpans((tracer) => {
    for (let i = 0; i < 50; i++) tracer.startSpan(`op ${i}`).end();
  }, resourceFromAttributes(attributes));
  expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);

  const rows = await db.query<{ service: string; resource_chars: number; cut: string; host: string; pid: number }>(
    `SELECT service_name AS service, length(resource::text) AS resource_chars, resource ->> '${ATTR_RESOURCE_CUT}' AS cut,
            resource ->> 'host.name' AS host, (resource ->> 'process.pid')::int AS pid FROM "${schema}".spans`,
  );
  expect(rows).toHaveLength(50);
  for (const row of rows) {
    expect(row.service.length).toBeLessThan(TEXT_CHARS + 40);
    expect(row.service).toMatch(/^s+… \(298976 more characters\)$/);
    expect(row.resource_chars).toBeLessThan(RESOURCE_JSON_CHARS + 4096);
    expect(row.cut).toMatch(/^\d+ of 2003 attributes kept, values cut past 1024 characters$/);
    // Values kept, cut where long, until the budget is spent.
    expect(row).toMatchObject({ host: 'web-1', pid: 7 });
  }
  const [trace] = await db.query<{ n: number }>(`SELECT max(length(service_name))::int AS n FROM "${schema}".traces`);
  expect(trace!.n).toBeLessThan(TEXT_CHARS + 40);

  const small = await recordSpans((tracer) => tracer.startSpan('small').end(), resourceFromAttributes({ 'service.name': 'checkout', big: 'b'.repeat(10_000) }));
  expect((await exportSpans(exporter, small)).code).toBe(ExportResultCode.SUCCESS);
  const [row] = await db.query<{ service: string; big: string; cut: string | null }>(
    `SELECT service_name AS service, resource ->> 'big' AS big, resource ->> '${ATTR_RESOURCE_CUT}' AS cut FROM "${schema}".spans WHERE name = 'small'`,
  );
  expect(row).toEqual({ service: 'checkout', big: 'b'.repeat(10_000), cut: null });
});

test("a schema URL of megabytes, a resource's or a scope's, is cut; a resource of a million attributes is cut without being serialised whole", async () => {
  const huge = 'u'.repeat(2_000_000);
  const many: Record<string, number> = { 'service.name': 1 };
  for (let i = 0; i < 1_000_000; i++) many[`k${i}`] = i;
  const resource = resourceFromAttributes(many, { schemaUrl: huge });
  const spans = await recordSpans((tracer) => {
    for (let i = 0; i < 20; i++) tracer.startSpan(`many ${i}`).end();
  }, resource);
  const scoped = await recordSpans((tracer) => tracer.startSpan('scoped').end(), undefined, { schemaUrl: huge });
  expect((await exportSpans(exporter, [...spans, ...scoped])).code).toBe(ExportResultCode.SUCCESS);

  // jsonb's text puts a space after each colon and comma: not counted.
  const rows = await db.query<{ name: string; schema_url: number; scope_schema_url: number; resource_chars: number; cut: string | null }>(
    `SELECT name, length(resource_schema_url) AS schema_url, length(scope_schema_url) AS scope_schema_url,
            length(resource::text) - 2 * (SELECT count(*) FROM jsonb_object_keys(resource))::int AS resource_chars,
            resource ->> '${ATTR_RESOURCE_CUT}' AS cut FROM "${schema}".spans WHERE name LIKE 'many %' OR name = 'scoped'`,
  );
  expect(rows).toHaveLength(21);
  for (const row of rows) {
    if (row.name === 'scoped') expect(row.scope_schema_url).toBeLessThan(TEXT_CHARS + 40);
    else {
      expect(row.schema_url).toBeLessThan(TEXT_CHARS + 40);
      expect(row.resource_chars).toBeLessThan(RESOURCE_JSON_CHARS + 4096);
      expect(row.cut).toMatch(/^\d+ of 1000001 attributes kept/);
    }
  }
});
