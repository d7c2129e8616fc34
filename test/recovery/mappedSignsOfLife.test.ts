// A writer that recovery cannot check by lock or pid (a recoverer in another container, on
// a platform without our addon; a host without /proc) is judged by the times of its files.
// A store into a MAP_SHARED mapping whose pages were faulted in ahead does not set them:
// on tmpfs (a Kubernetes emptyDir in memory) a busy writer's segment kept its creation
// time, on ext4 it moved at writeback only, and after staleAfterMillis its live journal
// was recovered: false crash records, and the writer's segment deleted under it. Each
// heartbeat now sets the segment's time, on both write paths, by the kernel's clock: a
// writer whose own clock ran a day behind dated its segment a day back, and was judged
// dead while it ran (faketime, an attack).
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { probeWriter } from '../../src/recovery/probeWriter.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { expectedJournalIo, JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

describe.each(JOURNAL_IO_PATHS)('on the %s path', (path) => {
  useJournalIo(path);

  test("a live writer's heartbeats keep its files' time recent, by which a recoverer that cannot check it judges it", async () => {
    const journalDir = join(tempDir(), 'journal');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir, recover: false, heartbeatIntervalMillis: 50 });
    const provider = providerWith(processor, 'signs-of-life');
    try {
      const open = provider.getTracer('t').startSpan('long job');
      expect(processor.stats().journalWritePath).toBe(expectedJournalIo(path));
      const [writer] = readdirSync(journalDir);
      const writerDir = join(journalDir, writer!);
      // Opening a mapped segment queues a thread-pool job (MmapSegmentFile.populateAhead)
      // that, on ext4, sets the segment's time to now when it runs, a few ms later. Only
      // the opening queues it: let it run first, or it undoes the dating below.
      await new Promise((resolve) => setTimeout(resolve, 100));
      // As if the writer had been silent for ten minutes. Dated and checked synchronously:
      // an await in between lets a 50 ms heartbeat run first, and the files are recent
      // again before the check (a CI run failed so). A job that lands all the same (a
      // loaded thread pool) is met by dating them again.
      const tenMinutesAgo = (Date.now() - 600_000) / 1000;
      const newestMs = () => Math.max(statSync(writerDir).mtimeMs, ...readdirSync(writerDir).map((name) => statSync(join(writerDir, name)).mtimeMs));
      let datedAt = 0;
      let newestAfterDating = Number.POSITIVE_INFINITY;
      for (let attempt = 1; attempt <= 20 && newestAfterDating >= datedAt - 500_000; attempt++) {
        if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 10));
        for (const name of readdirSync(writerDir)) utimesSync(join(writerDir, name), tenMinutesAgo, tenMinutesAgo);
        utimesSync(writerDir, tenMinutesAgo, tenMinutesAgo);
        datedAt = Date.now();
        newestAfterDating = newestMs();
      }
      expect(newestAfterDating).toBeLessThan(datedAt - 500_000);

      // A few heartbeats later, the files are dated after that, which only a heartbeat does
      // by then. The allowance is for the kernel's coarse file clock (write(2) dates by it).
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await probeWriter(writerDir)).lastModifiedMs).toBeGreaterThanOrEqual(datedAt - 50);
      open.end();
    } finally {
      await provider.shutdown();
    }
  });

  test("a writer whose clock runs a day behind still dates its files by the host's clock", async () => {
    const journalDir = join(tempDir(), 'journal');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir, recover: false, heartbeatIntervalMillis: 50 });
    const provider = providerWith(processor, 'clock-behind');
    const dayMs = 86_400_000;
    try {
      const open = provider.getTracer('t').startSpan('long job');
      const [writer] = readdirSync(journalDir);
      const writerDir = join(journalDir, writer!);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const realNow = Date.now.bind(Date);
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() - dayMs);
      // Files dated an hour back, as after a pause; only heartbeats date them again.
      const hourAgo = (realNow() - 3_600_000) / 1000;
      for (const name of readdirSync(writerDir)) utimesSync(join(writerDir, name), hourAgo, hourAgo);
      utimesSync(writerDir, hourAgo, hourAgo);
      const datedAt = realNow();

      await new Promise((resolve) => setTimeout(resolve, 300));
      vi.restoreAllMocks();
      expect((await probeWriter(writerDir)).lastModifiedMs).toBeGreaterThanOrEqual(datedAt - 50);
      open.end();
    } finally {
      vi.restoreAllMocks();
      await provider.shutdown();
    }
  });
});
