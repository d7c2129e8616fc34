// Whether a file held open is still the one its path names. A path can come to name
// another file while a descriptor (or a lock) is held on the first: a cleanup job deletes
// it, or an operator moves the journal directory to another disk (`mv` copies and then
// deletes, `ln -s` puts the copy at the old path). Writes and locks then land on a file
// nobody will read or ask, and existsSync() says all is well.
import { fstatSync, statSync } from 'node:fs';

interface FileIdentity {
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

/** isStillAtPath for a file open on `fd`. */
export function descriptorIsAtPath(fd: number, path: string): boolean {
  return isStillAtPath(
    identity(() => fstatSync(fd)),
    path,
  );
}
