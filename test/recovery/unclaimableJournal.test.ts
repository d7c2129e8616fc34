// A journal whose claim fails for a reason other than a race (a rename the file system
// refuses: permissions, a busy mount, a name too long) is a failure of that journal alone:
// it is reported and tried again at the next scan, and every other dead journal in the
// directory is recovered in the same scan.
import { mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

test('a journal that cannot be claimed does not keep the others from being recovered', async () => {
  const journalDir = join(tempDir(), 'journal');
  mkdirSync(journalDir);
  // A writer directory whose name is valid but whose claimed name would pass NAME_MAX (255
  // bytes): the rename fails with ENAMETOOLONG, as root too. It sorts before the other.
  const unclaimable = join(journalDir, `w${'0'.repeat(9)}-1${'0'.repeat(200)}-1-${'cd'.repeat(8)}`);
  mkdirSync(unclaimable);
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(unclaimable, old, old);
  const dead = writeDeadJournal(journalDir, 50, { openEvery: 10 });

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter, staleAfterMillis: 1000 });
  expect(report.failures).toEqual([{ dir: unclaimable, error: expect.stringContaining('ENAMETOOLONG') }]);
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open });
  expect(exporter.spans).toHaveLength(dead.ended + dead.open);
});
