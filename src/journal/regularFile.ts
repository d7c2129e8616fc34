// Opening a file of a journal directory for reading. Anything can sit there under a
// segment's or the progress file's name: a FIFO blocked open(2) for good (on the
// application's thread, or a thread-pool thread that shutdown() then waited on), a device
// or a symlink to /dev/zero read without end. Only regular files are read, and opening
// never blocks (O_NONBLOCK is harmless on a regular file).
import { closeSync, constants, fstatSync } from 'node:fs';
import { openSync } from '../untracedFs.js';
import type { FileHandle } from 'node:fs/promises';
import { open } from '../untracedFsPromises.js';
import type { FileIdentity } from './fileIdentity.js';

const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function notRegular(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path} is not a regular file`), { code: 'ENOTREG', path });
}

/** A descriptor of the regular file at `path`, with its size and identity; throws (code ENOTREG for anything else). */
export function openRegularFileSync(path: string): { fd: number; size: number; identity: FileIdentity } {
  const fd = openSync(path, READ_FLAGS);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw notRegular(path);
    return { fd, size: stats.size, identity: { dev: stats.dev, ino: stats.ino } };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** openRegularFileSync on the thread pool. */
export async function openRegularFile(path: string): Promise<{ file: FileHandle; size: number }> {
  const file = await open(path, READ_FLAGS);
  try {
    const stats = await file.stat();
    if (!stats.isFile()) throw notRegular(path);
    return { file, size: stats.size };
  } catch (error) {
    await file.close().catch(() => {});
    throw error;
  }
}
