// A real file system with faults injected on demand: short writes, EAGAIN, ENOSPC,
// fdatasync errors. The bytes that do get written reach the real file.
import * as fs from 'node:fs';
import type { SegmentFileSystem } from '../../src/journal/segmentFile/SegmentFile.js';

export type Fault = 'none' | 'short-writes' | 'eagain' | 'enospc' | 'enospc-midway' | 'fsync-eio' | 'slow-fsync';

function errno(code: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: injected by test`) as NodeJS.ErrnoException;
  error.code = code;
  return error;
}

export class FaultyFileSystem implements SegmentFileSystem {
  fault: Fault = 'none';
  private toggle = false;

  /** Bumped at each close of a descriptor: a late operation on a closed one is detected. */
  private readonly generations = new Map<number, number>();

  openSync = fs.openSync;
  closeSync = (fd: number): void => {
    this.generations.set(fd, (this.generations.get(fd) ?? 0) + 1);
    fs.closeSync(fd);
  };
  ftruncateSync = fs.ftruncateSync;
  fsyncSync = fs.fsyncSync;

  writeSync = (fd: number, buffer: Uint8Array, offset: number, length: number): number => {
    switch (this.fault) {
      case 'short-writes':
        return fs.writeSync(fd, buffer, offset, Math.max(1, Math.floor(length / 3)));
      case 'eagain':
        this.toggle = !this.toggle;
        if (this.toggle) throw errno('EAGAIN');
        return fs.writeSync(fd, buffer, offset, length);
      case 'enospc':
        throw errno('ENOSPC');
      case 'enospc-midway':
        // Part of the frame reaches the file, then the disk is full.
        if (length > 4) return fs.writeSync(fd, buffer, offset, Math.floor(length / 2));
        throw errno('ENOSPC');
      default:
        return fs.writeSync(fd, buffer, offset, length);
    }
  };

  fdatasyncSync = (fd: number): void => {
    if (this.fault === 'fsync-eio') throw errno('EIO');
    fs.fdatasyncSync(fd);
  };

  fdatasync = (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
    if (this.fault === 'fsync-eio') return callback(errno('EIO'));
    // A slow disk: the sync is still in flight when the writer moves on (e.g. rotates).
    if (this.fault === 'slow-fsync') {
      // The kernel would act on whatever the number means by then; a closed one is EBADF.
      const generation = this.generations.get(fd) ?? 0;
      return void setTimeout(() => {
        if ((this.generations.get(fd) ?? 0) !== generation) return callback(errno('EBADF'));
        fs.fdatasync(fd, callback);
      }, 30);
    }
    fs.fdatasync(fd, callback);
  };
}
