// Opens a new journal segment on the cheapest path that cannot harm the host: memory-mapped
// where our native addon loads and the segment's blocks can be preallocated; write(2)
// otherwise, and always when OTEL_BLACKBOX_JOURNAL_IO=write. Both paths write the same
// format. Measured on a 2-vCPU VM (bench/processor-overhead.mjs): a write(2) of one frame
// costs 3.0-3.3 µs; a copy into a mapped page that was faulted ahead, well under 1 µs.
import { safeDiag } from '../../safeDiag.js';
import { MmapSegmentFile } from './MmapSegmentFile.js';
import { realFileSystem, syncPathNow } from './SegmentFile.js';
import type { SegmentFile, SegmentFileKind, SegmentFileSystem } from './SegmentFile.js';
import { loadSegmentIoAddon } from './segmentIoAddon.js';
import { WriteSegmentFile } from './WriteSegmentFile.js';

export type { SegmentFile, SegmentFileKind, SegmentFileSystem };
export { realFileSystem, syncPathNow };

export interface OpenSegmentFileOptions {
  /** Bytes to preallocate and map on the mmap path: the segment's capacity. */
  preallocateBytes: number;
  /** File operations for the write(2) path; passing one (tests inject faults) selects write(2). */
  fs?: SegmentFileSystem;
}

export const JOURNAL_IO_ENV = 'OTEL_BLACKBOX_JOURNAL_IO';

export interface JournalWritePath {
  path: SegmentFileKind;
  /** Why segments are written with write(2), when they are. */
  reason?: string;
  /** The addon should have loaded here and did not (a bundle, a binary that would not load): worth a warning. */
  unexpected?: boolean;
}

/** The path new segments take in this process, and why when it is write(2). */
export function journalWritePath(): JournalWritePath {
  const raw = process.env[JOURNAL_IO_ENV];
  // Case and surrounding spaces aside, as OTEL_BLACKBOX_DURABILITY is read.
  const requested = raw?.trim().toLowerCase();
  if (requested === 'write') return { path: 'write', reason: `${JOURNAL_IO_ENV}=write` };
  if (requested !== undefined && requested !== '' && requested !== 'mmap' && requested !== 'auto') {
    warnOnce(`otel-blackbox: ignoring ${JOURNAL_IO_ENV}=${JSON.stringify(raw)}: expected one of 'auto', 'mmap', 'write'.`);
  }
  const load = loadSegmentIoAddon();
  return load.addon ? { path: 'mmap' } : { path: 'write', reason: load.reason, unexpected: load.unexpected };
}

/** Creates the segment (it must not exist); throws if the file cannot be created. */
export function openSegmentFile(path: string, options: OpenSegmentFileOptions): SegmentFile {
  const addon = options.fs === undefined && journalWritePath().path === 'mmap' ? loadSegmentIoAddon().addon : undefined;
  if (addon !== undefined) {
    const opened = MmapSegmentFile.open(path, options.preallocateBytes, addon);
    if (typeof opened !== 'string') return opened;
    warnOnce(`otel-blackbox: journal segment ${path} is written with write(2): ${opened}`);
  }
  return new WriteSegmentFile(path, options.fs ?? realFileSystem);
}

let lastWarning: string | undefined;

/** Says a fallback once, not once per segment, until the reason changes. */
function warnOnce(message: string): void {
  const reason = message.replace(/segment \S+ /, '');
  if (reason === lastWarning) return;
  lastWarning = reason;
  safeDiag.warn(message);
}
