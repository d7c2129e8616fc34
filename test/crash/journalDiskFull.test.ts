// A journal on a 2 MiB tmpfs that fills up mid-run, on each write path: the application
// keeps running and exits normally (no SIGBUS from a mapped page without a block), the
// journal says loudly that it cannot be written and degrades to memory, and what it did
// write reads back without damage. Needs root to mount the tmpfs (CI runs as root).
import { execFileSync } from 'node:child_process';
import { diag } from '@opentelemetry/api';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { runFixture } from '../helpers/childProcess.js';
import { JOURNAL_IO_PATHS, expectedJournalIo, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { segmentNames } from '../helpers/journalFiles.js';
import { providerWith } from '../helpers/tracing.js';

const fixture = join(import.meta.dirname, '../fixtures/diskFillingService.mjs');
const tempDir = useTempDirs();
const mounts: string[] = [];
let mountError: string | undefined;

/** A 2 MiB tmpfs, or the test skipped (and said why) where none can be mounted. */
function smallFilesystem(context: TestContext): string {
  if (mountError !== undefined) {
    console.warn(`journalDiskFull: cannot mount a tmpfs here (${mountError}); this test needs root`);
    context.skip();
  }
  return mountTiny();
}

function mountTiny(): string {
  const dir = join(tempDir(), 'tiny');
  mkdirSync(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
  mounts.push(dir);
  return dir;
}

beforeAll(() => {
  try {
    execFileSync('umount', [mountTiny()], { stdio: 'pipe' });
    mounts.pop();
  } catch (error) {
    mountError = String((error as { stderr?: Buffer }).stderr ?? error).trim();
  }
});
// Registered after useTempDirs, so it runs before the temporary directory is removed.
afterEach(() => {
  for (const dir of mounts.splice(0)) execFileSync('umount', [dir], { stdio: 'pipe' });
});

function lines(stdout: string, tag: string): Record<string, unknown> {
  const line = stdout.split('\n').find((l) => l.startsWith(`${tag} `));
  return JSON.parse(line!.slice(tag.length + 1));
}

describe.each(JOURNAL_IO_PATHS)('a journal written with %s on a tmpfs that fills up', (io) => {
  useJournalIo(io);

  test('the application keeps running, the journal degrades loudly, and what it wrote is intact', async (context) => {
    const journalDir = join(smallFilesystem(context), 'journal');
    let stdout = '';
    const child = runFixture(fixture, { JOURNAL_DIR: journalDir, SPANS: '20000' });
    child.child.stdout!.on('data', (chunk) => (stdout += chunk));
    const exit = await child.exited;
    expect(exit.signal).toBeNull();
    expect(exit.code).toBe(0);

    const start = lines(stdout, 'START');
    const done = lines(stdout, 'DONE');
    expect(start).toMatchObject({ journalHealthy: true, journalWritePath: expectedJournalIo(io) });
    // ~2.3 KiB of journal per span: the 2 MiB filled after several hundred spans.
    expect(done.healthyUntil).toBeGreaterThan(100);
    expect(done.healthyUntil).toBeLessThan(19_999);
    expect(done).toMatchObject({ journalHealthy: false, journalWritePath: 'memory' });
    expect(exit.stderr).toMatch(/journal .* cannot be written \(.*ENOSPC/);

    const [writer] = readdirSync(journalDir);
    for (const name of segmentNames(join(journalDir, writer!))) {
      const contents = readSegment(readFileSync(join(journalDir, writer!, name)));
      expect(contents.damaged, name).toEqual([]);
      expect(contents.tornTailBytes, name).toBe(0);
    }
  });
});

describe.each(JOURNAL_IO_PATHS)('a journal written with %s on a tmpfs already full at start', (io) => {
  useJournalIo(io);

  test('spans go from memory, and the journal says so once, not at every retry', async (context) => {
    const tiny = smallFilesystem(context);
    // Filled to the last block.
    try {
      writeFileSync(join(tiny, 'filler'), Buffer.alloc(4 * 1024 * 1024));
    } catch {
      // ENOSPC: full, as meant.
    }
    const lines = collectDiag();
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir: join(tiny, 'journal'), recover: false });
    const provider = providerWith(processor, 'full-at-start');
    try {
      const tracer = provider.getTracer('t');
      // Three retries of the journal (one a second) with spans meanwhile.
      for (let i = 0; i < 7; i++) {
        tracer.startSpan('request').end();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      await processor.forceFlush();
      expect(processor.stats()).toMatchObject({ journalHealthy: false, journalWritePath: 'memory', spansExported: 7 });
      const said = lines.filter((line) => /ENOSPC/.test(line));
      expect(said.filter((line) => /cannot (use|be written)/.test(line)), said.join('\n')).toHaveLength(1);
      // The mapped path also says, once, that its segment falls back to write(2).
      expect(said.length, said.join('\n')).toBeLessThanOrEqual(io === 'mmap' ? 2 : 1);
    } finally {
      diag.disable();
      await provider.shutdown();
    }
  });
});
