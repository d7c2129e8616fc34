// Whether a file held open is still the one its path names. A path can come to name
// another file while a descriptor (or a lock) is held on the first: a cleanup job deletes
// it, or an operator moves the journal directory to another disk (`mv` copies and then
// deletes, `ln -s` puts the copy at the old path). Writes and locks then land on a file
// nobody will read or ask, and existsSync() says all is well.
import { fstatSync } from 'node:fs';
import { statSync } from '../untracedFs.js';

export interface FileIdentity {
  dev: number;
  ino: number;
}

function identity(stat: () => { dev: number; ino: number }): FileIdentity | undefined {
  try {
    const { dev, ino } = stat();
    return { dev, ino };
  } catch {
    return undefined;
  }
}

/** The identity of the file at `path` now: undefined when there is none (or it cannot be asked). */
export function identityAtPath(path: string): FileIdentity | undefined {
  return identity(() => statSync(path));
}

/**
 * False when `path` names no file or another file than `taken` (an identity taken earlier).
 * True when `taken` is unknown: what cannot be told is not acted on.
 */
export function isStillAtPath(taken: FileIdentity | undefined, path: string): boolean {
  if (taken === undefined) return true;
  const now = identityAtPath(path);
  return now !== undefined && now.dev === taken.dev && now.ino === taken.ino;
}

/** The identity of the file open on `fd`: undefined when it cannot be asked. */
export function descriptorIdentity(fd: number): FileIdentity | undefined {
  return identity(() => fstatSync(fd));
}

/**
 * Whether `fd` still names the file `taken` is of. False once the number was closed under
 * us, or closed and given to another file: an application that closes descriptors it did
 * not open (a sweep) leaves us a number that is its own file, or socket, by then, which
 * must not be written, cut, synced, touched or closed. True when `taken` is unknown.
 */
export function descriptorIsStill(fd: number, taken: FileIdentity | undefined): boolean {
  if (taken === undefined) return true;
  let now: { dev: number; ino: number };
  try {
    now = fstatSync(fd);
  } catch (error) {
    // Closed: EBADF. Any other failure (ESTALE, EIO on a network filesystem) cannot tell,
    // and what cannot be told is not acted on: it stays ours, to be closed, not leaked.
    return (error as NodeJS.ErrnoException).code !== 'EBADF';
  }
  return now.dev === taken.dev && now.ino === taken.ino;
}

/** Thrown where a descriptor is found no longer ours (descriptorIsStill). */
export function descriptorLostError(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`the descriptor of ${path} was closed by someone else (a descriptor sweep in the application?); its number, perhaps another file's now, is left alone`), {
    code: 'EDESCRIPTORLOST',
    path,
  });
}
