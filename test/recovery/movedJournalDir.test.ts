// An operator moves a running application's journal directory to a bigger disk: `mv`
// across filesystems copies the files and deletes the originals, and a symlink (or a
// mount) puts the copy at the old path. Before, the writer noticed nothing: its segment
// and its lock file still existed by name, so it went on writing into the deleted
// original, and the unlocked copy of its lock told every judge it was dead. A span that
// started after the move then had no record anywhere. Now maintain() (every second in the
// processor) compares identities: the writer locks the new lock file and starts a fresh
// segment that carries every open span's START.
import { cpSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { probeWriterLock } from '../../src/journal/livenessLocks.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { expectedJournalIo, JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

describe.each(JOURNAL_IO_PATHS)('writing with %s', (io) => {
  useJournalIo(io);

  test('a journal directory copied and put back under a live writer: it locks the copy and journals its open spans there', async () => {
    const journalDir = join(tempDir(), 'journal');
    const identity = currentWriterIdentity();
    const writer = new JournalWriter({
      journalDir, identity, durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
    });
    expect(writer.writePath).toBe(expectedJournalIo(io));
    const tracer = providerWith({ onStart: (span) => void writer.appendStart(span), onEnd: () => {}, forceFlush: async () => {}, shutdown: async () => {} }).getTracer('t');
    tracer.startSpan('open before the move');

    const writerDir = join(journalDir, identity.writerId);
    cpSync(writerDir, `${writerDir}.copy`, { recursive: true });
    rmSync(writerDir, { recursive: true });
    renameSync(`${writerDir}.copy`, writerDir);
    tracer.startSpan('open after the move');
    expect(probeWriterLock(writerDir)).toBe('free');

    expect(writer.maintain()).toBe(true);
    expect(probeWriterLock(writerDir)).toBe('held');
    const whileAlive = await recoverJournals({ journalDir, exporter: new CollectingExporter() });
    expect(whileAlive).toMatchObject({ journals: 0, liveJournals: 1 });

    // The writer stops as a killed one would leave it: lock released, files in place.
    writer.close({ removeIfDone: false });
    const exporter = new CollectingExporter();
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansCrashed: 2, failures: [] });
    expect(exporter.spans.map((span) => span.name).sort()).toEqual(['open after the move', 'open before the move']);
    expect(readdirSync(journalDir)).toEqual([]);
  });

  test('a lock that cannot be taken again at once is taken at a later maintain(): an unlocked copy is never left to say the writer died', async () => {
    const journalDir = join(tempDir(), 'journal');
    const identity = currentWriterIdentity();
    const writer = new JournalWriter({
      journalDir, identity, durability: 'process', maxSegmentBytes: 1024 * 1024, maxJournalBytes: 64 * 1024 * 1024, groupCommitMillis: 10, heartbeatIntervalMs: 1000,
    });
    const tracer = providerWith({ onStart: (span) => void writer.appendStart(span), onEnd: () => {}, forceFlush: async () => {}, shutdown: async () => {} }).getTracer('t');
    tracer.startSpan('open all along');
    const lockPath = join(journalDir, identity.writerId, 'writer.lock');

    // The lock file replaced, and its path taken for a moment (here by a directory: the
    // rename that puts a new lock there fails, as a take fails on EMFILE).
    rmSync(lockPath);
    mkdirSync(join(lockPath, 'in the way'), { recursive: true });
    expect(writer.maintain()).toBe(true);
    // Then an unlocked file there, as a copy of the directory would leave.
    rmSync(lockPath, { recursive: true });
    writeFileSync(lockPath, '', { mode: 0o600 });
    expect(probeWriterLock(join(journalDir, identity.writerId))).toBe('free');

    expect(writer.maintain()).toBe(true);
    expect(probeWriterLock(join(journalDir, identity.writerId))).toBe('held');
    const exporter = new CollectingExporter();
    expect(await recoverJournals({ journalDir, exporter })).toMatchObject({ journals: 0, liveJournals: 1 });
    expect(exporter.spans).toEqual([]);
    writer.close({ removeIfDone: false });
  });

});
