// A journalDir so long that recovery's paths under it cannot be made (a claimed directory's
// name adds the claimer's identity, ~150 bytes, and its claim lock ~65 more): the journal
// was written, and after a crash its claim lock failed with ENAMETOOLONG at every scan, so
// its ENDs and crash records never reached the database. It is refused at start instead,
// loudly, and spans go from memory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { afterEach, expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { longestRecoveryPathBytes, PATH_MAX_BYTES } from '../../src/journal/journalPaths.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
afterEach(() => diag.disable());

test('a journalDir whose recovery paths would pass PATH_MAX is refused at start, and spans still go out', async () => {
  const base = tempDir();
  // Components of 200 bytes (NAME_MAX is 255), up to where a writer directory still fits.
  let journalDir = base;
  while (longestRecoveryPathBytes(join(journalDir, 'x'.repeat(200))) < PATH_MAX_BYTES + 150) journalDir = join(journalDir, 'x'.repeat(200));
  expect(journalDir.length + 60).toBeLessThan(PATH_MAX_BYTES);
  expect(longestRecoveryPathBytes(journalDir)).toBeGreaterThanOrEqual(PATH_MAX_BYTES);

  const lines = collectDiag();
  const exporter = new CollectingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false });
  const provider = providerWith(processor, 'long-dir');
  try {
    provider.getTracer('t').startSpan('request').end();
    await processor.forceFlush();
    expect(processor.stats()).toMatchObject({ journalHealthy: false, spansExported: 1 });
    expect(lines.join('\n')).toMatch(/journalDir is too long: recovery's paths under it reach \d+ bytes/);
    expect(existsSync(journalDir)).toBe(false);
  } finally {
    await provider.shutdown();
  }
});
