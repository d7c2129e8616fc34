// A journalDir on overlayfs (a container's writable layer, where a journal lands unless a
// volume is mounted for it) is written with write(2): its upper layer, which may be btrfs,
// cannot be seen, and a mapped store there could SIGBUS the host. The line that says so
// named the filesystem by a hex number; it now names overlayfs and says how to get
// memory-mapped segments. Needs root to mount the overlay (CI runs as root).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { afterEach, expect, test, type TestContext } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { expectedJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
const mounts: string[] = [];

/** An overlay mount with empty layers, or the test skipped (and said why) where none can be mounted. */
function overlay(context: TestContext): string {
  const root = tempDir();
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((name) => join(root, name));
  for (const dir of [lower, upper, work, merged]) mkdirSync(dir!);
  try {
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged!], { stdio: 'pipe' });
  } catch (error) {
    console.warn(`overlayJournalDir: cannot mount an overlay here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()}); this test needs root`);
    context.skip();
  }
  mounts.push(merged!);
  return merged!;
}

// Registered after useTempDirs, so it runs before the temporary directory is removed.
afterEach(() => {
  for (const dir of mounts.splice(0)) execFileSync('umount', [dir], { stdio: 'pipe' });
  diag.disable();
});

test('a journalDir on overlayfs is written with write(2), and the line says overlayfs and how to get mapped segments', async (context) => {
  if (expectedJournalIo('mmap') !== 'mmap') context.skip();
  const journalDir = join(overlay(context), 'journal');
  const warnings = collectDiag();
  const exporter = new CollectingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false });
  const provider = providerWith(processor);
  provider.getTracer('overlay').startSpan('on overlayfs').end();
  expect(processor.stats().journalWritePath).toBe('write');
  await provider.shutdown();

  expect(exporter.spans.map((span) => span.name)).toEqual(['on overlayfs']);
  const line = warnings.find((warning) => warning.includes('is written with write(2)'));
  expect(line).toMatch(/: it is on overlayfs \(a container's writable layer: put journalDir on a volume, such as a Kubernetes emptyDir or a Docker volume, on ext4, xfs or tmpfs, for memory-mapped segments\), not a filesystem known to write preallocated blocks in place \(ext4, xfs, tmpfs\)$/);
});
