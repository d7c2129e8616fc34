// A relative journalDir (the default, `.otel-journal`, is one) names a directory under the
// working directory the processor was made in. Resolved at each use instead, a
// process.chdir() afterwards sent segments, rotations and the lock to another directory:
// the journal broke, spans went unprotected, segments were left behind, and recovery then
// exported spans twice and wrote crash records for spans that had ended.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const startedIn = process.cwd();
afterEach(() => process.chdir(startedIn));

test('a relative journalDir stays where it was when the processor was made, whatever process.chdir() does after', async () => {
  const home = tempDir();
  const elsewhere = join(tempDir(), 'elsewhere');
  mkdirSync(elsewhere);
  process.chdir(home);
  const exporter = new CollectingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir: 'journal', recover: false, maxSegmentBytes: 64 * 1024 });
  const tracer = providerWith(processor, 'relative-dir').getTracer('t');
  process.chdir(elsewhere);
  for (let i = 0; i < 2000; i++) tracer.startSpan(`s${i}`, { attributes: { pad: 'x'.repeat(100) } }).end();
  expect(processor.stats().journalHealthy).toBe(true);
  await processor.shutdown();
  expect(exporter.spans).toHaveLength(2000);
  expect(existsSync(join(elsewhere, 'journal'))).toBe(false);
  // Everything exported: the writer's directory went at shutdown.
  expect(readdirSync(join(home, 'journal'))).toEqual([]);
});
