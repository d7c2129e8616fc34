// maxJournalBytes is a cap on the journal's bytes on disk, and stats().journalBytes says
// what the journal holds there. On the memory-mapped path each segment is preallocated to
// maxSegmentBytes, and the next one made ahead: with the 8 MiB default, a journal capped at
// 1 MiB took 8 MiB of disk while stats() said 150 KB. The default segment size now scales
// down with the cap, a segment larger than the cap is refused, and journalBytes counts the
// preallocated room as the disk does.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { diag } from '@opentelemetry/api';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

function filesBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stats = statSync(path);
    total += stats.isDirectory() ? filesBytes(path) : stats.size;
  }
  return total;
}

describe.each(JOURNAL_IO_PATHS)('journal bytes on disk, writing with %s', (io) => {
  useJournalIo(io);

  test('a journal capped at 1 MiB takes that on disk (mapped, with the preallocated room on top), and stats().journalBytes says what is there', async () => {
    const journalDir = join(tempDir(), 'journal');
    const exporter = new CollectingExporter();
    exporter.failing = true; // nothing commits: the journal only grows
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, maxJournalBytes: 1024 * 1024, flushTimeoutMillis: 200 });
    const tracer = providerWith(processor, 'capped').getTracer('t');
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 200; i++) tracer.startSpan(`s${i}`, { attributes: { pad: 'x'.repeat(200) } }).end();
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The END of a span whose START is written passes the cap (the span must not be left
    // open on disk): here the last one's, a few hundred bytes. Mapped, the live segment's
    // unwritten room and the spare come on top: each an eighth of the cap by default,
    // plus room for a crossing record (64 KiB) and, in the spare, for a larger head (4 KiB).
    const preallocated = io === 'write' ? 0 : 2 * (128 * 1024 + 64 * 1024 + 4096) + 4096;
    // Once closed segments are cut to their records (on the thread pool); until then they
    // hold preallocated zeros past them.
    await expect.poll(() => processor.stats().journalBytes - filesBytes(journalDir)).toBe(0);
    expect(filesBytes(journalDir)).toBeLessThanOrEqual(1024 * 1024 + 4096 + preallocated);
    await processor.shutdown();
  });
});

describe('maxSegmentBytes against maxJournalBytes', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    diag.disable();
  });

  test('a segment larger than the whole journal is refused, naming the option', () => {
    expect(() => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), recover: false, maxJournalBytes: 1024 * 1024, maxSegmentBytes: 64 * 1024 * 1024 })).toThrow(
      /^Invalid option maxSegmentBytes/,
    );
  });

  test('against a cap from the environment it is held to the cap, and said: the environment never takes the application down', async () => {
    const lines = collectDiag();
    vi.stubEnv('OTEL_BLACKBOX_MAX_JOURNAL_BYTES', String(1024 * 1024));
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), recover: false, maxSegmentBytes: 64 * 1024 * 1024 });
    await processor.shutdown();
    expect(lines.filter((line) => line.includes('maxSegmentBytes'))).toEqual([
      'otel-blackbox: maxSegmentBytes=67108864 is more than maxJournalBytes (1048576, from OTEL_BLACKBOX_MAX_JOURNAL_BYTES): segments of 131072 bytes are used.',
    ]);
  });
});
