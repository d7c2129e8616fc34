// One journal segment file, open for appending. The writer opens segments only through
// openSegmentFile(), which picks the implementation: a memory-mapped, preallocated file
// (MmapSegmentFile) or write(2) (WriteSegmentFile). Both leave the same bytes in the file;
// the mapped one is followed by zeros up to its capacity, which readSegment reads as the
// end of the records.
import * as nodeFs from 'node:fs';
import { openSync } from '../../untracedFs.js';
import type { RecordType } from '../recordTypes.js';

export type SegmentFileKind = 'mmap' | 'write';

export interface SegmentFile {
  readonly path: string;
  readonly kind: SegmentFileKind;
  /** Bytes appended so far. */
  readonly bytes: number;
  /** Bytes the file can hold; Infinity for write(2). */
  readonly capacity: number;
  /**
   * Appends all of `data`, or nothing: 'no-room' when it would pass `capacity` (the writer
   * rotates). Throws on an I/O failure; after a throw the file still ends at a record boundary.
   */
  append(data: Uint8Array): 'written' | 'no-room';
  /** Encodes one frame of `json` at the end, as append() would write it: 'no-room' likewise. */
  appendFrame(type: RecordType, json: string): 'written' | 'no-room';
  syncDataNow(): void;
  /** fdatasync on the thread pool: the caller does not wait for the disk. */
  syncDataInBackground(callback: (error: NodeJS.ErrnoException | null) => void): void;
  /** Closes the file once background work on it has finished. */
  close(): void;
  /**
   * At the process's exit, when no thread-pool callback comes again: closes it as close()
   * does, doing here what close() leaves to the pool (a mapped segment's cut to its records).
   */
  closeAtExit(): void;
  readonly closed: boolean;
  /**
   * Sets the file's modification time to now, where appending does not (a mapping): the sign
   * of life by which recovery judges a writer it cannot check by lock or pid.
   */
  touch(): void;
  /**
   * Whether the path still names this file (fileIdentity.ts): false once it was deleted, or
   * replaced by a copy when the journal directory was moved to another filesystem; also
   * when descriptorIsItsOwn() is false.
   */
  isAtItsPath(): boolean;
  /**
   * False once the application closed this file's descriptor (a sweep), its number perhaps
   * given to a file of its own: nothing is then done with the number (no write is undone,
   * no sync, no time set, no close). True once closed.
   */
  descriptorIsItsOwn(): boolean;
  /**
   * Reads bytes already appended, from `position` into `buffer`, through the descriptor:
   * what the file holds even after its path was removed (the writer's repair reads back the
   * records only it still holds: JournalWriter's SegmentRescue). Throws once closed, or when
   * descriptorIsItsOwn() is false. Returns the bytes read.
   */
  readAt(buffer: Buffer, position: number): number;
}

/** The file operations of the write(2) path; tests pass a faulty one to inject errors. */
export interface SegmentFileSystem {
  openSync: typeof nodeFs.openSync;
  writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number) => number;
  fsyncSync: (fd: number) => void;
  fdatasyncSync: (fd: number) => void;
  fdatasync: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;
  ftruncateSync: (fd: number, length: number) => void;
  closeSync: (fd: number) => void;
  /** Where given, a new segment is made 0600 whatever the umask (ownerOnly.ts). */
  fchmodSync?: (fd: number, mode: number) => void;
}

// Its openSync untraced (untracedFs.ts); calls on a descriptor are not traced. Named one by
// one: spreading node:fs read its deprecated getters (fs.F_OK), and Node 24 printed a
// DeprecationWarning in every application that loaded us (CI's Node 24 leg).
export const realFileSystem: SegmentFileSystem = {
  openSync,
  writeSync: nodeFs.writeSync,
  fsyncSync: nodeFs.fsyncSync,
  fdatasyncSync: nodeFs.fdatasyncSync,
  fdatasync: nodeFs.fdatasync,
  ftruncateSync: nodeFs.ftruncateSync,
  closeSync: nodeFs.closeSync,
  fchmodSync: nodeFs.fchmodSync,
};

/** Opens `path`, syncs its data (a directory: its entries) and closes it, now. */
export function syncPathNow(path: string, fs: SegmentFileSystem = realFileSystem): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
