// A writer holds an exclusive flock on <writer dir>/writer.lock for as long as it lives
// (native/writer_lock.c): the kernel releases it when the process dies, however it dies,
// and when a worker thread ends. Recovery asks the lock before it asks /proc, because the
// lock is right where a pid is not: a writer in another pid namespace of this kernel (the
// containers of one Kubernetes pod share a hostname and often a volume, and are all pid 1)
// or on a shared volume mounted by another container of this host. Where the addon does not
// load, no lock is taken, the segment header says so, and liveness is judged by pid alone.
import { safeDiag } from '../safeDiag.js';
import { join } from 'node:path';
import { WRITER_LOCK_FILE } from './journalPaths.js';
import { loadSegmentIoAddon } from './segmentFile/segmentIoAddon.js';

export interface WriterLock {
  /** Lets go of the lock: only once the writer's directory is gone. */
  release(): void;
}

/** The lock on `writerDir`, held from now on; undefined where it cannot be taken (then said once through diag). */
export function holdWriterLock(writerDir: string): WriterLock | undefined {
  const { addon } = loadSegmentIoAddon();
  if (addon?.holdLock === undefined || addon.releaseLock === undefined) return undefined;
  const releaseLock = addon.releaseLock;
  try {
    const fd = addon.holdLock(join(writerDir, WRITER_LOCK_FILE));
    let held = true;
    return {
      release: () => {
        if (held) releaseLock(fd);
        held = false;
      },
    };
  } catch (error) {
    // A filesystem without flock (ENOLCK): the header will not claim a lock, and liveness
    // falls back to the pid, as without the addon.
    safeDiag.warn(`otel-blackbox: journal ${writerDir} holds no writer lock (${(error as Error).message}); its liveness is judged by pid alone`);
    return undefined;
  }
}

/**
 * 'held': a live process (or thread) holds the writer's lock; 'free': none does, so its
 * writer is gone; undefined: this process cannot ask (no addon, no lock file, an error).
 */
export function probeWriterLock(writerDir: string): 'held' | 'free' | undefined {
  const { addon } = loadSegmentIoAddon();
  if (addon?.probeLock === undefined) return undefined;
  try {
    const held = addon.probeLock(join(writerDir, WRITER_LOCK_FILE));
    return held === null ? undefined : held ? 'held' : 'free';
  } catch {
    return undefined;
  }
}
