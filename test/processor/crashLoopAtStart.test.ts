// An application in a crash loop at start (it throws before its first export, is
// restarted, throws again) never lives long enough to recover the journals of the
// incarnations before it. On the memory-mapped path each left its first segment's
// preallocated room behind, 8 MiB, whose release the thread pool never ran: 20 restarts
// took 162 MB, for as long as the loop went on (an attack). The room now goes back at
// 'exit', and the journals hold only their records, which a later recovery still finds.
// Killed instead, each leaves a first segment, which is made smaller than the later ones.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { runFixture } from '../helpers/childProcess.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const fixture = resolve(__dirname, '../fixtures/diesAtStart.mjs');
const RESTARTS = 3;

function bytesOnDisk(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const stats = statSync(join(dir, name));
    total += stats.isDirectory() ? bytesOnDisk(join(dir, name)) : stats.blocks * 512;
  }
  return total;
}

describe.each(JOURNAL_IO_PATHS)('writing with %s', (io) => {
  useJournalIo(io);

  test.each([
    ['', {}],
    // The journal's jobs wait behind the application's own work until the exit: the file
    // is cut past what they may touch (at most the 1 MiB window faulted in ahead).
    [', its thread pool busy', { BUSY_POOL: '1', UV_THREADPOOL_SIZE: '1' }],
  ])('each restart of an application that dies at start%s leaves its records, not a preallocated segment; a recovery finds them all', async (_, env) => {
    const journalDir = join(tempDir(), 'journal');
    for (let restart = 0; restart < RESTARTS; restart++) {
      const { exited } = runFixture(fixture, { JOURNAL_DIR: journalDir, ...env });
      const { code, stderr } = await exited;
      expect(code).toBe(1);
      expect(stderr).toContain('REQUIRED_SETTING is not set');
    }
    expect(readdirSync(journalDir)).toHaveLength(RESTARTS);
    // Its records (header, resource, two STARTs, an END, the exit records: a few pages) and
    // at most the window a job of the pool still held at exit (before: 8 MiB each, mapped).
    expect(bytesOnDisk(journalDir)).toBeLessThan(RESTARTS * (1024 * 1024 + 64 * 1024));

    const exporter = new CollectingExporter();
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: RESTARTS, spansCrashed: RESTARTS, spansEnded: RESTARTS, corruptBytes: 0, failures: [] });
    const boot = exporter.spans.filter((span) => span.name === 'boot');
    expect(boot).toHaveLength(RESTARTS);
    for (const span of boot) expect(JSON.stringify(span.attributes)).toContain('REQUIRED_SETTING is not set');
    expect(exporter.spans.filter((span) => span.name === 'exit listener')).toHaveLength(RESTARTS);
    expect(readdirSync(journalDir)).toEqual([]);
  });

  // Nothing runs at a SIGKILL: what each incarnation leaves is its first segment as made. A
  // writer's first segment holds 1 MiB of records (before: maxSegmentBytes, 8 MiB).
  test('each restart of an application SIGKILLed at start leaves at most a first segment of 1 MiB; a recovery finds every span', async () => {
    const journalDir = join(tempDir(), 'journal');
    for (let restart = 0; restart < RESTARTS; restart++) {
      const { exited } = runFixture(fixture, { JOURNAL_DIR: journalDir, DIE: 'sigkill' });
      expect((await exited).signal).toBe('SIGKILL');
    }
    expect(readdirSync(journalDir)).toHaveLength(RESTARTS);
    expect(bytesOnDisk(journalDir)).toBeLessThan(RESTARTS * (1024 * 1024 + 64 * 1024 + 16 * 1024));

    const exporter = new CollectingExporter();
    const report = await recoverJournals({ journalDir, exporter, staleAfterMillis: 1000 });
    expect(report).toMatchObject({ journals: RESTARTS, spansCrashed: RESTARTS, corruptBytes: 0, failures: [] });
    expect(exporter.spans.filter((span) => span.name === 'boot')).toHaveLength(RESTARTS);
    expect(readdirSync(journalDir)).toEqual([]);
  });
});
