// Journal files and directories are their owner's alone (0600 and 0700), whatever the
// process's umask. The mode given at creation is reduced by the umask: an application that
// set a restrictive one after start (process.umask(0o777)) made segments nobody could read,
// and its journal could not be recovered; one started with umask 0277 made the journal
// directory it had just created read-only to its own writer. So each is chmod-ed after
// creation (umask applies to creation only). A filesystem that refuses (no permission
// model) keeps what the umask left.
import { fchmodSync } from 'node:fs';
import { chmodSync, existsSync, mkdirSync } from '../untracedFs.js';
import { dirname, resolve } from 'node:path';

/** A file just created on `fd` made 0600. */
export function ownerOnlyFile(fd: number, fchmod: (fd: number, mode: number) => void = fchmodSync): void {
  try {
    fchmod(fd, 0o600);
  } catch {
    // Refused by the filesystem: the file stays as created.
  }
}

/**
 * Makes `path` and every missing directory above it, each 0700 before the next is made in
 * it (a recursive mkdir made them all with the umask's mode, and could not make a child in
 * a parent the umask had left without write permission). An existing directory is left as
 * it is. Throws as mkdir does: EROFS on a read-only mount, where a recursive mkdir said ENOENT.
 */
export function makeOwnerOnlyDirs(path: string): void {
  const missing: string[] = [];
  for (let dir = resolve(path); !existsSync(dir); ) {
    missing.push(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const dir of missing.reverse()) makeOwnerOnlyDir(dir, true);
}

/** Makes one directory 0700; throws EEXIST when it exists, unless `existing` is allowed (another process made it first). */
export function makeOwnerOnlyDir(path: string, existing = false): void {
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if (existing && (error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    chmodSync(path, 0o700);
  } catch {
    // Refused by the filesystem: the directory stays as created.
  }
}
