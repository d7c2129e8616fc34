// 'host' durability's syncs for one writer, all on the thread pool: the group commit (one
// fdatasync, or msync of the range written, covers every record of a groupCommitMillis
// window), the sync of each segment a rotation closed and of the directory that names the
// new one, and the bookkeeping that lets segments go only once the copies carried out of
// them are on disk. Under 'process' the writer makes none of these.
//
// One sync at a time, in the order asked: the thread pool has four threads by default,
// and the application's own file, dns.lookup, crypto and zlib calls wait for a free one.
// On storage whose syncs take a second, a writer that rotated faster than that held every
// thread (a sync in flight per rotation) and stalled them all; queued, its syncs hold one,
// and a backlog is said instead (SYNC_BACKLOG_SEGMENTS).
import { closeSync, fsync } from 'node:fs';
import { safeDiag } from '../safeDiag.js';
import { open } from '../untracedFs.js';
import { segmentPath } from './journalPaths.js';
import { openForSync, type OpenCallback } from './openForSync.js';
import { realFileSystem, syncPathNow } from './segmentFile/openSegmentFile.js';
import type { SegmentFile, SegmentFileSystem } from './segmentFile/openSegmentFile.js';

/** What the group commit needs of its writer. */
export interface GroupCommitWriter {
  readonly writerDir: string;
  readonly groupCommitMillis: number;
  readonly fs: SegmentFileSystem | undefined;
  /** The segment being written, if any. */
  appender(): SegmentFile | undefined;
  /** A sync failed: the journal is broken until a repair. */
  failed(error: unknown): void;
  /** The copies carried forward are on disk now: the segments they left may go. */
  carriedSynced(): void;
  /** A group commit's sync succeeded. */
  synced(): void;
}

/** needSyncAfter after a failed sync: no later sync makes a deletion safe, only a repair. */
const NO_SYNC_WILL_DO = Number.POSITIVE_INFINITY;

/**
 * How long a closed segment may wait for its sync before the backlog is said (once, until
 * it clears). Not a count of segments: small ones (tests, a tight maxJournalBytes) queue
 * several behind one healthy sync of a busy machine.
 */
export const SYNC_BACKLOG_MILLIS = 2000;

/** A sync of ours on the thread pool; `done` starts the next. */
type SyncJob = (done: () => void) => void;

export class GroupCommit {
  readonly #writer: GroupCommitWriter;
  #scheduled = false;
  #inFlight = false;
  /**
   * Group commits begun, the latest one done, and the one carried STARTs wait for before
   * the segments they were carried out of may go. After a failed sync, no number: copies
   * may be in a segment that did not reach the disk, until a repair writes them all again.
   */
  #begun = 0;
  #syncedThrough = 0;
  #carriedNeedsSync = 0;
  /** Background syncs of a rotation (the closed segment, the directory) not yet done. */
  #rotationSyncs = 0;
  /** The segments among them: syncRotatedNow() syncs these itself. */
  readonly #segmentsSyncing = new Set<number>();
  /** Syncs waiting for the one on the thread pool (#running) to finish. */
  readonly #queue: SyncJob[] = [];
  /** When each closed segment whose sync waits in #queue was queued, oldest first (performance.now()). */
  readonly #rotationsQueuedAt: number[] = [];
  #running = false;
  /** The segment the last group commit synced, and its bytes when that sync began. */
  #synced: { readonly appender: SegmentFile; readonly bytes: number } | undefined;
  /** The backlog was said: said again only once it has cleared. */
  #backlogSaid = false;
  /** The writer closed: syncs still to come (leaveToPool) run, and what they find no longer reaches it. */
  #writerClosed = false;
  /** A sync failed since whenIdle() was called: a later one of the same file proves nothing (after EIO). */
  #failedSinceAsked = false;
  /** Resolved when nothing is queued or running (whenIdle). */
  #idleWaiters: (() => void)[] = [];

  constructor(writer: GroupCommitWriter) {
    this.#writer = writer;
  }

  /** Copies were written now: the segments they were carried out of wait for a sync begun after this. */
  carriedNow(): void {
    this.#carriedNeedsSync = this.#begun + 1;
  }

  /** Every copy carried forward so far is on disk. */
  get carriedAreSynced(): boolean {
    return this.#syncedThrough >= this.#carriedNeedsSync;
  }

  /** One fdatasync (or msync of what was written) on the thread pool covers every record of the window. */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      const appender = this.#writer.appender();
      if (!appender) return;
      // One group commit queued or running at a time; queued after a rotation's syncs, so no
      // record of the new segment reaches the disk by us before those of the one before it.
      if (this.#inFlight) return this.schedule();
      this.#syncAppender(appender);
    }, this.#writer.groupCommitMillis).unref();
  }

  /** A group commit, after the syncs asked for before it (a rotated segment's records reach the disk before the next one's). */
  #syncAppender(appender: SegmentFile): void {
    this.#inFlight = true;
    const begun = ++this.#begun;
    this.#run((done) => {
      // Closed by a rotation (or a repair) while this waited its turn: a closed file's sync
      // returns at once, having synced nothing, and counted as a group commit it let the
      // segments go whose STARTs that file's copies stand for (and ended a repair's
      // episode). That file's own sync is queued already; the next group commit comes after it.
      if (appender.closed || appender !== this.#writer.appender()) {
        this.#inFlight = false;
        done();
        if (!this.#writerClosed) this.schedule();
        return;
      }
      const bytes = appender.bytes;
      const synced = (error: NodeJS.ErrnoException | null): void => {
        this.#inFlight = false;
        try {
          if (this.#writerClosed) return;
          if (error) return this.#failed(error);
          this.#synced = { appender, bytes };
          // STARTs carried forward before this sync began are on disk: the segments they were
          // carried out of, waiting for it, may go.
          const waited = this.#syncedThrough < this.#carriedNeedsSync;
          this.#syncedThrough = begun;
          if (waited && begun >= this.#carriedNeedsSync) this.#writer.carriedSynced();
          this.#writer.synced();
        } finally {
          done();
        }
      };
      try {
        appender.syncDataInBackground(synced);
      } catch (error) {
        synced(error as NodeJS.ErrnoException);
      }
    });
  }

  /** Whether a group commit has synced every byte written into `appender`: close() need not sync it again. */
  hasSynced(appender: SegmentFile | undefined): boolean {
    return appender === undefined || (this.#synced?.appender === appender && this.#synced.bytes === appender.bytes);
  }

  /**
   * Resolves once every sync asked for so far is done, the records written so far among
   * them (a group commit now, not at the window's end): shutdown() waits for it, so that
   * close() finds nothing left to sync on the application's thread. True if it got there;
   * false if it gave up after a few rounds (the application went on writing), or a sync failed.
   */
  async whenIdle(): Promise<boolean> {
    this.#failedSinceAsked = false;
    for (let round = 0; round < 3; round++) {
      const appender = this.#writer.appender();
      if (!this.hasSynced(appender) && !this.#inFlight) this.#syncAppender(appender!);
      if (!this.#running) break;
      await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    }
    return !this.#failedSinceAsked && !this.#running && this.#rotationSyncs === 0 && this.hasSynced(this.#writer.appender());
  }

  /**
   * Closes a segment a rotation leaves now (a mapped one gives back its preallocated room
   * as at any close), and syncs it by its path on the thread pool when its turn comes, not
   * here: an msync of the whole segment on the application's thread stalled it for
   * milliseconds at every rotation (bench/processor-overhead.mjs). Left open until its
   * sync, the closed segments of a slow disk kept their room, and the journal outgrew
   * maxJournalBytes behind a thread pool the application kept busy.
   */
  closeRotated(appender: SegmentFile, segment: number): void {
    this.#rotationSyncs += 1;
    this.#segmentsSyncing.add(segment);
    appender.close();
    this.#sayBacklog();
    this.#rotationsQueuedAt.push(performance.now());
    this.#run((done) => {
      this.#rotationsQueuedAt.shift();
      this.#syncFile(segmentPath(this.#writer.writerDir, segment), (error) => {
        this.#segmentsSyncing.delete(segment);
        try {
          // One deleted since (committed) needs no sync.
          this.#rotationSynced(error?.code === 'ENOENT' ? null : error);
        } finally {
          done();
        }
      });
    });
  }

  /** fdatasync of the file at `path`, opened for it on the thread pool (openForSync; a test's file system opens it here). */
  #syncFile(path: string, callback: (error: NodeJS.ErrnoException | null) => void): void {
    const fs = this.#writer.fs ?? realFileSystem;
    openForSync(this.#openFile, path, (openError, fd) => {
      if (openError !== null) return callback(openError);
      fs.fdatasync(fd, (error) => {
        // Closed at once, as the directory's (syncDirectory).
        try {
          fs.closeSync(fd);
        } catch {
          // Nothing useful to do: the sync is what was asked for.
        }
        callback(error);
      });
    });
  }

  readonly #openDirectory = (path: string, callback: OpenCallback): void => open(path, 'r', callback);

  /** Opens a file to sync: on the thread pool, or with a test's file system. */
  readonly #openFile = (path: string, callback: OpenCallback): void => {
    const fs = this.#writer.fs;
    if (fs === undefined) return open(path, 'r', callback);
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (error) {
      return callback(error as NodeJS.ErrnoException, -1);
    }
    callback(null, fd);
  };

  /** fsync of the journal directory on the thread pool: a new segment's name reaches the disk. */
  syncDirectory(): void {
    this.#rotationSyncs += 1;
    this.#run((done) => {
      const synced = (): void => {
        this.#rotationSynced(null);
        done();
      };
      // Not every filesystem lets a directory be fsync'ed; the file's own data still is.
      openForSync(this.#openDirectory, this.#writer.writerDir, (openError, fd) => {
        if (openError !== null) return synced();
        fsync(fd, () => {
          // Closed at once, not queued: a worker thread that ends cancels the thread pool's
          // queued fs requests, and a close that never ran kept the descriptor for good.
          try {
            closeSync(fd);
          } catch {
            // Nothing useful to do.
          }
          synced();
        });
      });
    });
  }

  /**
   * Under 'host', close() returns with every record on disk (unless its caller leaves the
   * syncs to the pool: leaveToPool). A rotation syncs the segment it closed on the thread
   * pool; one still in flight or queued at close() would finish after it, or never if the
   * process exits next. Each is synced here, by its path, and so is the directory (the new
   * segments' names); the queue is let go of.
   */
  syncRotatedNow(): void {
    if (this.#rotationSyncs === 0) return;
    const { writerDir, fs } = this.#writer;
    for (const segment of this.#segmentsSyncing) {
      try {
        syncPathNow(segmentPath(writerDir, segment), fs);
      } catch (error) {
        // One deleted since (committed) needs no sync.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.#writer.failed(error);
      }
    }
    try {
      syncPathNow(writerDir);
    } catch {
      // Not every filesystem lets a directory be synced (as syncDirectory).
    }
    this.#rotationsQueuedAt.length = 0;
    this.#queue.length = 0;
  }

  /** The writer is closed (JournalWriter.close): syncs that finish later tell it nothing. */
  writerClosed(): void {
    this.#writerClosed = true;
  }

  /**
   * Under 'host', at a close() whose caller could not wait for the syncs (shutdown()'s
   * deadline passed): the closed segments not yet synced, and `last` (the segment being
   * closed, unless a group commit synced all of it), are synced by their paths on the
   * thread pool after close() returns. Until then their records are in the page cache:
   * safe from the process's end, not yet from a power loss. Returns how many files that is.
   */
  leaveToPool(last: SegmentFile | undefined): number {
    const files = this.#segmentsSyncing.size;
    if (last === undefined || this.hasSynced(last)) return files;
    this.#run((done) => this.#syncFile(last.path, () => done()));
    return files + 1;
  }

  /** A sync of the writer's own (its side files'), in its turn among the others. */
  queueSync(job: SyncJob): void {
    this.#run(job);
  }

  /** Runs `job` now if no sync of ours is on the thread pool, else after those before it. */
  #run(job: SyncJob): void {
    if (this.#running) {
      this.#queue.push(job);
      return;
    }
    this.#running = true;
    let finished = false;
    job(() => {
      if (finished) return;
      finished = true;
      this.#running = false;
      const next = this.#queue.shift();
      if (next !== undefined) return this.#run(next);
      if (this.#backlogSaid) {
        this.#backlogSaid = false;
        safeDiag.info(`otel-blackbox: journal ${this.#writer.writerDir}: its syncs have caught up with its writes`);
      }
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    });
  }

  /**
   * Rotations outpace the disk: records are written faster than it syncs them, so under
   * 'host' more than groupCommitMillis of them may be lost at a power loss. Said once.
   */
  #sayBacklog(): void {
    const oldest = this.#rotationsQueuedAt[0];
    if (this.#backlogSaid || oldest === undefined || performance.now() - oldest < SYNC_BACKLOG_MILLIS) return;
    this.#backlogSaid = true;
    safeDiag.warn(
      `otel-blackbox: journal ${this.#writer.writerDir}: ${this.#rotationsQueuedAt.length} closed segments wait for their sync, the oldest for ` +
        `${((performance.now() - oldest) / 1000).toFixed(1)} s: the disk syncs slower than spans are written, and records older than groupCommitMillis may not be on disk yet ` +
        `(durability 'host' syncs one file at a time, leaving the thread pool to the application)`,
    );
  }

  #rotationSynced(error: NodeJS.ErrnoException | null): void {
    this.#rotationSyncs -= 1;
    if (error !== null && !this.#writerClosed) this.#failed(error);
  }

  /** STARTs carried into the segment that failed to sync may not be on disk; their originals stay until a repair. */
  #failed(error: unknown): void {
    this.#failedSinceAsked = true;
    this.#carriedNeedsSync = NO_SYNC_WILL_DO;
    this.#writer.failed(error);
  }
}
