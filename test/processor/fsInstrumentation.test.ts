// With the file system instrumentation on, the journal's own file calls made spans, and the
// ones made while the journal rotated a segment were journaled inside that rotation: the
// journal opened the next segment twice (EEXIST), stopped writing, and an application of
// 190,000 spans dropped 58,773 of them, among 530,000 spans of the journal's own file calls
// (a new user's attack, with getNodeAutoInstrumentations). Our own work runs with tracing
// suppressed, as the export already did.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'fs_instrumented', (name) => (schema = name));

const FIXTURE = fileURLToPath(new URL('../fixtures/fsInstrumentedService.cjs', import.meta.url));
const BURSTS = 20;

test("the journal's own file calls make no spans, and an application that traces its file calls loses none of its spans", async () => {
  const { child, exited } = runFixture(FIXTURE, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: join(tempDir(), 'journal'), BURSTS: String(BURSTS) });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  const { code, stderr } = await exited;
  expect(code, stderr).toBe(0);
  const stats = JSON.parse(/RESULT (.*)\n/.exec(stdout)![1]!) as { spansDropped: number; journalSegments: number };
  expect(stderr).not.toMatch(/cannot be written/);
  expect(stats.spansDropped).toBe(0);

  const names = await db.query<{ name: string; count: string }>(`SELECT name, count(*) FROM "${schema}".spans GROUP BY name ORDER BY name`);
  // The application's own file call, and nothing of the journal's.
  expect(names.map(({ name, count }) => [name, Number(count)])).toEqual([
    ['fs statSync', 1],
    ['reads its config', 1],
    ['work', BURSTS * 500],
  ]);
}, 60_000);
