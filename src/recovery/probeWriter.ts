// Reads just enough of a writer's directory to judge liveness — the first segment's
// header and the files' modification times — without reading a live journal whole.
import { readdir, stat } from '../untracedFsPromises.js';
import { join } from 'node:path';
import { parseSegmentFileName, RECOVERY_PROGRESS_FILE, RECOVERY_PROGRESS_TEMP_FILE } from '../journal/journalPaths.js';
import { SEGMENT_MAGIC } from '../journal/frame.js';
import { readSegment } from '../journal/readSegment.js';
import { openRegularFile } from '../journal/regularFile.js';
import { RecordType } from '../journal/recordTypes.js';
import type { SegmentHeader } from '../journal/recordTypes.js';
import { probeWriterLock, type LockState } from '../journal/livenessLocks.js';

export const HEADER_PROBE_BYTES = 64 * 1024;

export interface WriterProbe {
  header: SegmentHeader | undefined;
  lastModifiedMs: number;
  segments: number;
  /** What the writer's lock says, when its header says it holds one or cannot be read (livenessLocks.ts). */
  lock: LockState | undefined;
  /** Set when a newer otel-blackbox wrote the journal (newerFormat): this one must leave it alone. */
  newerFormat: string | undefined;
}

/**
 * Why `buffer` (a segment's first bytes) and `header` are a format newer than this code
 * reads, or undefined. Read as this format, its records were damage and the journal was
 * deleted: an older recoverer sharing a journalDir with a newer writer destroyed its spans.
 */
export function newerFormat(buffer: Buffer, header: SegmentHeader | undefined): string | undefined {
  const digit = buffer[SEGMENT_MAGIC.length - 1];
  if (
    buffer.length >= SEGMENT_MAGIC.length &&
    buffer.subarray(0, SEGMENT_MAGIC.length - 1).equals(SEGMENT_MAGIC.subarray(0, SEGMENT_MAGIC.length - 1)) &&
    digit !== SEGMENT_MAGIC[SEGMENT_MAGIC.length - 1] &&
    digit! >= 0x30 &&
    digit! <= 0x39
  ) {
    return `segment magic ${buffer.subarray(0, SEGMENT_MAGIC.length).toString('latin1')}`;
  }
  const version: unknown = header?.v;
  if (typeof version === 'number' && version > 1) return `journal format version ${version}`;
  return undefined;
}

/**
 * What a segment's first bytes (up to HEADER_PROBE_BYTES) say: its header, and why it is of
 * a newer format (newerFormat), for probeWriter and `inspect`.
 */
export function readSegmentHead(head: Buffer): { header: SegmentHeader | undefined; newerFormat: string | undefined } {
  const header = readSegment(head).records.find((record) => record.type === RecordType.SegmentHeader)?.payload as SegmentHeader | undefined;
  return { header, newerFormat: newerFormat(head, header) };
}

export async function probeWriter(dir: string): Promise<WriterProbe> {
  const entries = await readdir(dir);
  const names = entries.filter((name) => parseSegmentFileName(name) !== undefined).sort();
  // A recovery that gave this journal back saved its progress in it (RecoveryProgress.ts):
  // the directory's time is then that save, no sign of life of the writer, which would
  // otherwise look alive for staleAfterMillis after every attempt to recover it.
  const recoveredBefore = entries.some((name) => name === RECOVERY_PROGRESS_FILE || name === RECOVERY_PROGRESS_TEMP_FILE);
  let lastModifiedMs = recoveredBefore ? 0 : (await stat(dir)).mtimeMs;
  let header: SegmentHeader | undefined;
  let newer: string | undefined;
  for (const name of names) {
    const path = join(dir, name);
    try {
      lastModifiedMs = Math.max(lastModifiedMs, (await stat(path)).mtimeMs);
      if (header) continue;
      const { file } = await openRegularFile(path);
      try {
        const buffer = Buffer.alloc(HEADER_PROBE_BYTES);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
        const head = readSegmentHead(buffer.subarray(0, bytesRead));
        header = head.header;
        newer ??= head.newerFormat;
      } finally {
        await file.close();
      }
    } catch (error) {
      // A segment deleted under us (its writer is alive and committing), or not a file:
      // nothing to judge by. Anything else (EACCES, EIO) leaves the journal unjudged: it is
      // the caller's to say, or a dead journal another user can read was passed in silence,
      // or called alive by the silence of files it could not read.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTREG') throw error;
    }
  }
  // Asked when the header says the writer holds one (it locks before writing a header), and
  // when no header can be read: a live writer's header damaged by one byte left silence
  // alone to judge it, and its journal was taken. A lock held says alive whatever else.
  const lock = header === undefined || header.writerLock === true ? probeWriterLock(dir) : undefined;
  return { header, lastModifiedMs, segments: names.length, lock, newerFormat: newer };
}
