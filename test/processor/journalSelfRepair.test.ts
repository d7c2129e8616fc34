// The journal repairs itself (issue #12): a journal directory deleted under a running
// process, a small disk that fills up, and a damaged END record each left the process
// without crash protection (or with a flush that never settles) for the rest of its life.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { segmentNames } from '../helpers/journalFiles.js';

const tempDir = useTempDirs();

function segmentFiles(journalDir: string): string[] {
  let writers: string[];
  try {
    writers = readdirSync(journalDir);
  } catch {
    return [];
  }
  return writers.flatMap((writer) => segmentNames(join(journalDir, writer)).map((name) => join(journalDir, writer, name)));
}

function spanIdsOnDisk(journalDir: string, type: RecordType): string[] {
  return segmentFiles(journalDir).flatMap((file) =>
    readSegment(readFileSync(file))
      .records.filter((record) => record.type === type)
      .map((record) => (record.payload as { s: string }).s),
  );
}

/** This process's descriptors on files under `dir` that were deleted (Linux: /proc/self/fd). */
function descriptorsOnDeletedFiles(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      return target.startsWith(dir) && target.endsWith(' (deleted)') ? [target] : [];
    } catch {
      return [];
    }
  });
}

const errors: string[] = [];
const warnings: string[] = [];
function captureDiag(): void {
  errors.length = 0;
  warnings.length = 0;
  diag.setLogger(
    {
      error: (message: string) => void errors.push(message),
      warn: (message: string) => void warnings.push(message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}
afterEach(() => diag.disable());

/** A journal directory on a 1 MiB tmpfs of its own (needs root); the caller unmounts it. */
function journalOnTinyDisk(): { mountPoint: string; journalDir: string } {
  const mountPoint = tempDir();
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mountPoint]);
  const journalDir = join(mountPoint, 'journal');
  mkdirSync(journalDir, { mode: 0o700 });
  return { mountPoint, journalDir };
}

describe('journal self-repair', () => {
  test('a journal directory deleted under a running process is made again, with the spans still open', async () => {
    captureDiag();
    const journalDir = join(tempDir(), 'journal');
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir, recover: false });
    const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('repair');
    try {
      const open = tracer.startSpan('open across the deletion');
      rmSync(journalDir, { recursive: true, force: true });
      await vi.waitFor(() => expect(spanIdsOnDisk(journalDir, RecordType.SpanStart)).toContain(open.spanContext().spanId), {
        timeout: 15_000,
        interval: 100,
      });
      const later = tracer.startSpan('after the repair');
      expect(spanIdsOnDisk(journalDir, RecordType.SpanStart)).toContain(later.spanContext().spanId);
      later.end();
      open.end();
    } finally {
      await processor.shutdown();
    }
  });

  test('a damaged END does not make forceFlush wait out its timeout, and the journal is still removed at shutdown', async () => {
    captureDiag();
    const journalDir = join(tempDir(), 'journal');
    const exporter = new CollectingExporter();
    exporter.failing = true;
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, maxSegmentBytes: 64 * 1024, flushTimeoutMillis: 20_000 });
    const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('damage');
    // Far more than the tail keeps in memory, so the early ones are read back from disk.
    for (let i = 0; i < 12_000; i++) tracer.startSpan(`span ${i}`, { attributes: { i } }).end();
    // Damage one END in an early, closed segment: a flipped byte in its payload.
    const [early] = segmentFiles(journalDir).sort().slice(2, 3);
    const bytes = readFileSync(early);
    const end = readSegment(bytes).records.find((record) => record.type === RecordType.SpanEnd)!;
    bytes[end.end - 5] ^= 0x20;
    writeFileSync(early, bytes);
    exporter.failing = false;
    await processor.forceFlush();
    expect(warnings.filter((message) => message.includes('forceFlush timed out'))).toEqual([]);
    expect(exporter.spans.length).toBe(12_000 - 1);
    await processor.shutdown();
    expect(readdirSync(journalDir)).toEqual([]);
  }, 60_000);

  test.skipIf(process.getuid?.() !== 0)('a full disk: the committed live segment is deleted, no empty segments leak, one error per episode', async () => {
    captureDiag();
    const { mountPoint, journalDir } = journalOnTinyDisk();
    const exporter = new CollectingExporter();
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false });
    const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('disk-full');
    try {
      const padding = 'x'.repeat(2048);
      let spans = 0;
      while (processor.stats().journalHealthy && spans < 5000) {
        tracer.startSpan(`span ${spans++}`, { attributes: { padding } }).end();
      }
      expect(processor.stats().journalHealthy).toBe(false);
      await processor.forceFlush();
      expect(exporter.spans.length).toBe(spans);
      // Everything is committed: the journal makes room for itself and works again.
      await vi.waitFor(() => expect(processor.stats().journalHealthy).toBe(true), { timeout: 15_000, interval: 100 });
      const after = tracer.startSpan('after the disk was full');
      expect(spanIdsOnDisk(journalDir, RecordType.SpanStart)).toContain(after.spanContext().spanId);
      after.end();
      const files = segmentFiles(journalDir);
      expect(files.filter((file) => statSync(file).size === 0)).toEqual([]);
      expect(files.length).toBeLessThanOrEqual(2);
      expect(errors.filter((message) => message.includes('cannot be written'))).toHaveLength(1);
    } finally {
      await processor.shutdown();
      execFileSync('umount', ['-l', mountPoint]);
    }
  }, 60_000);

  test.skipIf(process.getuid?.() !== 0)('a span that ends while the disk is full keeps its START until its copy in memory is exported; then the journal lets it go', async () => {
    captureDiag();
    const { mountPoint, journalDir } = journalOnTinyDisk();
    const exporter = new CollectingExporter();
    exporter.failing = true; // the database is down as well
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false });
    const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('disk-full');
    let leftBehind: string[] = [];
    try {
      const endsWhileFull = tracer.startSpan('ends while the disk is full');
      const padding = 'x'.repeat(2048);
      for (let spans = 0; processor.stats().journalHealthy && spans < 5000; spans++) {
        tracer.startSpan(`span ${spans}`, { attributes: { padding } }).end();
      }
      expect(processor.stats().journalHealthy).toBe(false);
      endsWhileFull.end(); // its END cannot be written: it waits in memory
      const { spanId } = endsWhileFull.spanContext();
      expect(spanIdsOnDisk(journalDir, RecordType.SpanEnd)).not.toContain(spanId);
      // A crash now must still find its START: a crash record is all that would be left of it.
      expect(spanIdsOnDisk(journalDir, RecordType.SpanStart)).toContain(spanId);
      exporter.failing = false;
      await processor.forceFlush();
      expect(exporter.spans.map((span) => span.spanContext().spanId)).toContain(spanId);
      await vi.waitFor(() => expect(processor.stats().journalHealthy).toBe(true), { timeout: 15_000, interval: 100 });
    } finally {
      await processor.shutdown();
      leftBehind = readdirSync(journalDir);
      execFileSync('umount', ['-l', mountPoint]);
    }
    // Exported from memory, the span no longer holds the journal: shutdown removes it.
    expect(leftBehind).toEqual([]);
  }, 60_000);
});

describe.each(JOURNAL_IO_PATHS)('a journal directory deleted while the database is away (%s)', (io) => {
  useJournalIo(io);

  test('the ENDs only the removed segments held are read back: exported once it is back, none counted lost, no descriptor left on a deleted file, the journal removed at shutdown', async () => {
    captureDiag();
    const journalDir = join(tempDir(), 'journal');
    const exporter = new CollectingExporter();
    exporter.failing = true;
    // Small segments: ENDs in closed segments (held for reading) and in the live one.
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, flushTimeoutMillis: 30_000, maxSegmentBytes: 16 * 1024 });
    const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('repair');
    const ended: string[] = [];
    const endOne = (name: string): void => {
      const span = tracer.startSpan(name);
      span.end();
      ended.push(span.spanContext().spanId);
    };
    try {
      for (let i = 0; i < 300; i++) endOne(`before ${i}`);
      // A batch of them is handed out and retried: its copies are records of their own.
      await vi.waitFor(() => expect(exporter.calls).toBeGreaterThan(0), { timeout: 10_000 });
      const open = tracer.startSpan('open across the deletion');
      rmSync(journalDir, { recursive: true, force: true });
      for (let i = 0; i < 100; i++) endOne(`between ${i}`);
      // Repaired, with every END copied into the new segment.
      await vi.waitFor(() => expect(new Set(spanIdsOnDisk(journalDir, RecordType.SpanEnd))).toEqual(new Set(ended)), { timeout: 15_000, interval: 50 });
      open.end();
      ended.push(open.spanContext().spanId);
      exporter.failing = false;
      await processor.forceFlush();
      expect(new Set(exporter.spanIds())).toEqual(new Set(ended));
      expect(errors.filter((message) => message.includes('they are lost'))).toEqual([]);
      expect(processor.stats().journalBacklog).toBe(0);
      // Held and rescued segments are closed once done with: a descriptor kept the blocks of a deleted file.
      await vi.waitFor(() => expect(descriptorsOnDeletedFiles(journalDir)).toEqual([]), { timeout: 10_000, interval: 50 });
    } finally {
      await processor.shutdown();
    }
    expect(readdirSync(journalDir)).toEqual([]);
  }, 60_000);
});
