// A server (or a pooler) that ends idle sessions: idle_session_timeout on the role or the
// database. Each idle connection of the exporter's pool then fails, which the pool handles
// by dropping it; each was said as a warning, about one a second for as long as the
// application ran (an attack). Said once now, then at most every ten minutes with a count.
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { afterEach, expect, test } from 'vitest';
import { PostgresSpanExporter } from '../../src/index.js';
import { collectDiag } from '../helpers/diagLines.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'idle_session_timeout', (name) => (schema = name));
afterEach(() => diag.disable());

test('idle connections ended by the server are said once, and every batch still commits', async () => {
  const lines = collectDiag();
  const url = new URL(db.url);
  url.searchParams.set('options', '-c idle_session_timeout=100');
  const exporter = new PostgresSpanExporter({ connectionString: url.toString(), schema, migrate: false });
  try {
    for (let round = 0; round < 4; round++) {
      expect((await exportSpans(exporter, await traceOf(2, `round ${round}`))).code).toBe(ExportResultCode.SUCCESS);
      // The server ends the connection once it has been idle 100 ms; the pool drops it.
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  } finally {
    await exporter.shutdown();
  }
  expect(await db.count(`SELECT count(*) FROM "${schema}".spans`)).toBe(8);
  expect(lines.filter((line) => line.includes('an idle connection to'))).toHaveLength(1);
});
