// A NodeSDK app's resource has asynchronous attributes (host and process detectors) that
// settle after the first span starts. Reading resource.attributes before then makes the
// SDK print "Accessing resource attributes before async attributes settled" through diag:
// the hot path must not, and the exported span still carries the settled resource. The
// journal holds what had settled at the first span, and the whole resource once it has.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'resource_startup', (name) => (schema = name));

test('the first span of a plain NodeSDK app prints no diag message, and its row has the settled resource', async () => {
  const child = runFixture(join(import.meta.dirname, '../fixtures/nodeSdkStartup.mjs'), {
    DATABASE_URL: db.url,
    SCHEMA: schema,
    JOURNAL_DIR: join(tempDir(), 'journal'),
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  });
  const { spanId, messages } = (await child.ready) as unknown as { spanId: string; messages: string[] };
  const exit = await child.exited;
  expect(messages).toEqual([]);
  expect(exit.code, exit.stderr).toBe(0);
  const [row] = await db.query(`SELECT service_name, resource FROM "${schema}".spans WHERE span_id = $1`, [spanId]);
  expect(row?.service_name).toBe('node-sdk-startup');
  // Attributes of the synchronous and the asynchronous detectors alike.
  expect(row?.resource).toMatchObject({ 'service.name': 'node-sdk-startup', 'process.pid': expect.any(Number), 'host.name': expect.any(String) });
});

test.each([
  { settles: true, expected: { 'service.name': 'async-resource', 'late.attribute': 'settled' } },
  { settles: false, expected: { 'service.name': 'async-resource' } },
])('a crash record carries the resource as journaled (async attribute settled: $settles)', async ({ settles, expected }) => {
  const journalDir = join(tempDir(), 'journal');
  const child = runFixture(join(import.meta.dirname, '../fixtures/asyncResourceService.mjs'), { JOURNAL_DIR: journalDir, SETTLE: settles ? '1' : '0' });
  const { open } = await child.ready;
  child.child.kill('SIGKILL');
  await child.exited;
  const collecting = new CollectingExporter();
  expect(await recoverJournals({ journalDir, exporter: collecting })).toMatchObject({ spansCrashed: 1, failures: [] });
  const [crashed] = collecting.spans;
  expect(crashed!.spanContext().spanId).toBe(open);
  expect(crashed!.resource.attributes).toEqual(expected);
});
