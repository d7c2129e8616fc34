// A process that finds the journal of a dead one at its start recovers it even if it stops
// at once: a short job, or an application in a crash loop that dies in its first turn of
// the event loop. Recovery is started in the background (setImmediate) so that the
// application's start never waits for it; a shutdown() in that same turn found none
// under way and returned, and the dead journal waited for a process that lived longer.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, PostgresSpanExporter } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'recovery_at_once_stopped', (name) => (schema = name));

test('a processor shut down in the turn it was made still recovers the dead journal it found', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 50, { openEvery: 5 });
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const processor = new JournalSpanProcessor({ exporter, journalDir });
  await processor.shutdown();
  const rows = await db.query<{ state: string; n: number }>(`SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`);
  expect(rows).toEqual([
    { state: 'crashed', n: dead.open },
    { state: 'ended', n: dead.ended },
  ]);
  expect(processor.stats().crashRecordsWritten).toBe(dead.open);
  expect(readdirSync(journalDir)).not.toContain(dead.writerDir.slice(journalDir.length + 1));
});
