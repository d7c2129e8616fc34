// 'host' durability's syncs for one writer, all on the thread pool: the group commit (one
// fdatasync, or msync of the range written, covers every record of a groupCommitMillis
// window), the sync of each segment a rotation closed and of the directory that names the
// new one, and the bookkeeping that lets segments go only once the copies carried out of
// them are on disk. Under 'process' the writer makes none of these.
import { closeSync, fsync } from 'node:fs';
import { open } from '../untracedFs.js';
import { segmentPath } from './journalPaths.js';
import { syncPathNow } from './segmentFile/openSegmentFile.js';
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
      // After the syncs of a rotation: no record of the new segment reaches the disk by us
      // before those of the segment before it.
      if (!appender || this.#inFlight || this.#rotationSyncs > 0) {
        if (appender) this.schedule();
        return;
      }
      this.#inFlight = true;
      const begun = ++this.#begun;
      appender.syncDataInBackground((error) => {
        this.#inFlight = false;
        if (error) return this.#failed(error);
        // STARTs carried forward before this sync began are on disk: the segments they were
        // carried out of, waiting for it, may go.
        const waited = this.#syncedThrough < this.#carriedNeedsSync;
        this.#syncedThrough = begun;
        if (waited && begun >= this.#carriedNeedsSync) this.#writer.carriedSynced();
        this.#writer.synced();
      });
    }, this.#writer.groupCommitMillis).unref();
  }

  /**
   * Closes a segment a rotation leaves, synced on the thread pool, not here: an msync of
   * the whole segment on the application's thread stalled it for milliseconds at every
   * rotation (bench/processor-overhead.mjs).
   */
  closeRotated(appender: SegmentFile, segment: number): void {
    this.#rotationSyncs += 1;
    this.#segmentsSyncing.add(segment);
    appender.closeAndSync((error) => {
      this.#segmentsSyncing.delete(segment);
      this.#rotationSynced(error);
    });
  }

  /** fsync of the journal directory on the thread pool: a new segment's name reaches the disk. */
  syncDirectory(): void {
    this.#rotationSyncs += 1;
    // Not every filesystem lets a directory be fsync'ed; the file's own data still is.
    open(this.#writer.writerDir, 'r', (openError, fd) => {
      if (openError !== null) return this.#rotationSynced(null);
      fsync(fd, () => {
        // Closed at once, not queued: a worker thread that ends cancels the thread pool's
        // queued fs requests, and a close that never ran kept the descriptor for good.
        try {
          closeSync(fd);
        } catch {
          // Nothing useful to do.
        }
        this.#rotationSynced(null);
      });
    });
  }

  /**
   * Under 'host', close() returns with every record on disk. A rotation syncs the segment
   * it closed on the thread pool; one still in flight at close() would finish after it, or
   * never if the process exits next. Each is synced here, by its path, and so is the
   * directory (the new segments' names).
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
  }

  #rotationSynced(error: NodeJS.ErrnoException | null): void {
    this.#rotationSyncs -= 1;
    if (error !== null) this.#failed(error);
  }

  /** STARTs carried into the segment that failed to sync may not be on disk; their originals stay until a repair. */
  #failed(error: unknown): void {
    this.#carriedNeedsSync = NO_SYNC_WILL_DO;
    this.#writer.failed(error);
  }
}
