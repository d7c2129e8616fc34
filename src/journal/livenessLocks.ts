// Liveness a pid cannot give. A writer holds an exclusive flock on <writer dir>/writer.lock
// for as long as it lives, and a recovery on <claimed dir>/claim-<claimer id>.lock for as
// long as its claim (native/writer_lock.c): the kernel releases a lock when its process
// dies, however it dies, and the addon when a worker thread ends. Recovery asks the lock
// before it asks /proc, because the lock is right where a pid is not: a process in another
// pid namespace of this kernel (the containers of one Kubernetes pod share a hostname and
// often a volume, and are all pid 1) or on a shared volume mounted by another container of
// this host. Where the addon does not load, no lock is taken, the segment header (or the
// missing lock file) says so, and liveness is judged by pid alone.
import { join } from 'node:path';
import { safeDiag } from '../safeDiag.js';
import { identityAtPath, isStillAtPath } from './fileIdentity.js';
import { claimLockFileName, WRITER_LOCK_FILE } from './journalPaths.js';
import { loadSegmentIoAddon } from './segmentFile/segmentIoAddon.js';

export interface HeldLock {
  /** Lets go of the lock (again: harmless). */
  release(): void;
  /**
   * Whether the lock's path still names the file locked (fileIdentity.ts): false once a
   * cleaner removed it or a moved directory put an unlocked copy there. Either way no
   * judge can see the lock any more: the writer takes it again (JournalWriter.maintain).
   */
  isAtItsPath(): boolean;
  /**
   * Whether this process still holds it: false once the application closed its descriptor
   * (a sweep of descriptors it did not open), which released it. The number is let go
   * without being closed: it may name another file of the application's by now.
   */
  isHeld(): boolean;
}

export type LockState = 'held' | 'free';

/**
 * The lock on `writerDir`'s writer.lock, held from now on; else 'failed' where a later
 * attempt may take it (too many open files, the path briefly taken by something else) or
 * 'unsupported' where none can (no addon, a filesystem without flock). A failure is said
 * through diag when `sayFailure`.
 */
export function holdWriterLock(writerDir: string, sayFailure = true): HeldLock | 'failed' | 'unsupported' {
  const held = holdLockFile(join(writerDir, WRITER_LOCK_FILE));
  if (!('failed' in held)) return held;
  if (held.failed !== undefined && sayFailure) safeDiag.warn(`otel-blackbox: journal ${writerDir} holds no writer lock (${held.failed.message}); its liveness is judged by pid alone`);
  return lockUnsupported(held.failed) ? 'unsupported' : 'failed';
}

/** What the writer's lock says: 'held' (it lives), 'free' (it is gone), undefined (this process cannot ask). */
export function probeWriterLock(writerDir: string): LockState | undefined {
  return probeLockFile(join(writerDir, WRITER_LOCK_FILE));
}

/**
 * A recovery's lock on the directory it is about to claim: taken before the rename, so a
 * claim is never seen without it. 'unsupported': no addon, or a filesystem without flock
 * (claims are judged by pid there, as judges cannot lock either); `failed`: anything else
 * (too many open files, the directory renamed by a faster claimer): do not claim now, as a
 * claim without its lock might be judged by a free file of an earlier attempt.
 */
export function holdClaimLock(dir: string, claimerId: string): HeldLock | 'unsupported' | { failed: NodeJS.ErrnoException } {
  const held = holdLockFile(join(dir, claimLockFileName(claimerId)));
  if (!('failed' in held)) return held;
  return held.failed === undefined || lockUnsupported(held.failed) ? 'unsupported' : { failed: held.failed };
}

/** Errors of a filesystem that has no flock at all. */
const FLOCK_UNSUPPORTED = new Set(['ENOLCK', 'EOPNOTSUPP', 'ENOTSUP', 'EINVAL']);

/** No lock can be taken here, now or later: no addon (`failed` undefined), or no flock. */
function lockUnsupported(failed: NodeJS.ErrnoException | undefined): boolean {
  return failed === undefined || FLOCK_UNSUPPORTED.has(failed.code ?? '');
}

export function probeClaimLock(claimedDir: string, claimerId: string): LockState | undefined {
  return probeLockFile(join(claimedDir, claimLockFileName(claimerId)));
}

/** The lock, or why not: `failed` is the error, undefined where there is no addon to lock with. */
function holdLockFile(path: string): HeldLock | { failed: NodeJS.ErrnoException | undefined } {
  const { addon } = loadSegmentIoAddon();
  if (addon?.holdLock === undefined || addon.releaseLock === undefined) return { failed: undefined };
  const releaseLock = addon.releaseLock;
  try {
    const handle = addon.holdLock(path);
    // The lock file is in place by now (holdLock renames it there once locked).
    const taken = identityAtPath(path);
    const lockIsHeld = addon.lockIsHeld;
    return {
      release: () => releaseLock(handle),
      isAtItsPath: () => isStillAtPath(taken, path),
      isHeld: () => lockIsHeld === undefined || lockIsHeld(handle),
    };
  } catch (error) {
    return { failed: error as NodeJS.ErrnoException };
  }
}

/** undefined: no addon, no such file, or one that is not a regular file (planted). */
function probeLockFile(path: string): LockState | undefined {
  const { addon } = loadSegmentIoAddon();
  if (addon?.probeLock === undefined) return undefined;
  try {
    const held = addon.probeLock(path);
    return held === null ? undefined : held ? 'held' : 'free';
  } catch {
    return undefined;
  }
}
