// Under 'host' a side file (`<segment>.settled`, SettledSpans.ts) is synced before the
// segments it stands for are deleted. What it lists is no longer noted once written, so a
// sync that failed left nothing to write next time, and the next deletion went ahead with
// that file never synced (a review). And a side file deleted while its sync waited its
// turn (a repair forgot its segment) failed the sync with ENOENT, breaking the journal.
import { mkdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { settledPath } from '../../src/journal/journalPaths.js';
import { NO_END, SettledSpans } from '../../src/journal/SettledSpans.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

const sync = (settled: SettledSpans, segments: number[]) =>
  new Promise<NodeJS.ErrnoException | null>((resolve) => settled.sync(segments, resolve));

/** A writer directory whose segment 1 has a side file listing one span. */
function withSideFile(): { dir: string; settled: SettledSpans } {
  const dir = join(tempDir(), 'writer');
  mkdirSync(dir);
  const settled = new SettledSpans(dir);
  settled.note(1, 'a'.repeat(32), 'b'.repeat(16), NO_END);
  expect(settled.persistBefore([1], [2]).written).toEqual([1]);
  return { dir, settled };
}

test('a side file whose sync failed is synced with the next ones, and until then deletions know to wait', async () => {
  const { dir, settled } = withSideFile();
  const path = settledPath(dir, 1);
  // fsync of a file of /proc fails (EINVAL): a sync that fails, on a real file system.
  unlinkSync(path);
  symlinkSync('/proc/version', path);
  expect(await sync(settled, [1])).toMatchObject({ code: 'EINVAL' });
  expect(settled.hasUnsynced).toBe(true);
  // Nothing new written since: asked for none, it syncs that one again.
  rmSync(path);
  writeFileSync(path, 'listed before');
  expect(await sync(settled, [])).toBeNull();
  expect(settled.hasUnsynced).toBe(false);
});

test('a side file deleted while its sync waited is nothing left to sync, not a failure', async () => {
  const { dir, settled } = withSideFile();
  unlinkSync(settledPath(dir, 1));
  expect(await sync(settled, [1])).toBeNull();
  expect(settled.hasUnsynced).toBe(false);
});
