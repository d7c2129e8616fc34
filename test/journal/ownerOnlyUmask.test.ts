// Journal files are 0600 and its directories 0700 whatever the process's umask (README,
// docs/guarantees.md). An application that set process.umask(0o777) after start made every
// later segment mode 0: after a crash its journal could not be read by its own user, and
// its ended spans and crash records were lost. One started with umask 0277 made the journal directory it
// had just created read-only to itself: crash protection was off for the whole run.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const umaskBefore = process.umask();
afterEach(() => void process.umask(umaskBefore));

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

describe.each(JOURNAL_IO_PATHS)('on the %s path', (path) => {
  useJournalIo(path);

  test('segments made after the application set umask 0777 are 0600', async () => {
    const journalDir = join(tempDir(), 'journal');
    // A database that is down keeps every segment.
    const failing = new CollectingExporter();
    failing.failing = true;
    const processor = new JournalSpanProcessor({ exporter: failing, journalDir, recover: false, maxSegmentBytes: 64 * 1024 });
    const provider = providerWith(processor, 'umask');
    const tracer = provider.getTracer('t');
    process.umask(0o777);
    const padding = 'x'.repeat(500);
    for (let i = 0; i < 400; i++) tracer.startSpan('request', { attributes: { i, padding } }).end();
    const open = tracer.startSpan('long job');
    const [writer] = readdirSync(journalDir);
    const writerDir = join(journalDir, writer!);
    const segments = readdirSync(writerDir).filter((name) => name.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(2);
    for (const name of segments) expect(modeOf(join(writerDir, name)), name).toBe(0o600);
    process.umask(umaskBefore);
    open.end();
    failing.failing = false;
    await provider.shutdown();
  });
});

test('a journal directory made under umask 0277 is 0700, and the journal works', async () => {
  const journalDir = join(tempDir(), 'made', 'here');
  process.umask(0o277);
  const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir, recover: false });
  const provider = providerWith(processor, 'umask-at-start');
  try {
    process.umask(umaskBefore);
    provider.getTracer('t').startSpan('request').end();
    expect(processor.stats()).toMatchObject({ journalHealthy: true });
    expect(modeOf(journalDir)).toBe(0o700);
    expect(modeOf(join(journalDir, '..'))).toBe(0o700);
    const [writer] = readdirSync(journalDir);
    expect(modeOf(join(journalDir, writer!))).toBe(0o700);
    if (processor.stats().journalWritePath === 'mmap') expect(modeOf(join(journalDir, writer!, 'writer.lock'))).toBe(0o600);
  } finally {
    await provider.shutdown();
  }
});
