// Spans that are no longer open, by the closed segment that holds their START. A committed
// segment is deleted once no open span's START is left in it, except one that is mostly
// such STARTs (long jobs, a leak): it stays until they end (JournalWriter.releaseSegments).
// Segments after it go as usual, and with them the ENDs of spans that started in it: after
// a crash, recovery would read those STARTs with no END and write crash records for spans
// that had ended, and whose rows were committed. So before a segment goes, the spans whose
// END it holds and whose START is in a segment that stays are appended to that segment's
// side file (`<segment>.settled`: SETTLED records), which is deleted after the segment.
//
// Each span is written there once: a SETTLED record in the live segment would go with it
// at the next commit and have to be written again, every kept segment's list at every
// commit (an earlier version of this did: 60% of the journal's bytes were such copies, and
// under 'host' each new one waited for a sync that the next span's end made stale).
//
// Memory: two string references and a number per span that ended in a later segment than
// its START (about 100 bytes with the ids), until that segment or the START's is deleted:
// for most, at the next commit; while nothing commits (the database away), up to the spans
// that fit in maxJournalBytes.
import { close, closeSync, fsync, writeSync } from 'node:fs';
import { open, openSync, unlink } from '../untracedFs.js';
import { openForSync, type OpenCallback } from './openForSync.js';
import { ownerOnlyFile } from './ownerOnly.js';
import { encodeFrame, SEGMENT_MAGIC } from './frame.js';
import { settledPath } from './journalPaths.js';
import { syncPathNow } from './segmentFile/openSegmentFile.js';
import { RecordType, type SettledRecord } from './recordTypes.js';

/** The END segment of a span whose END is nowhere in the journal (endedElsewhere): written down at the first deletion its START's segment outlives. */
export const NO_END = 0;
/** Pairs per SETTLED record: ~100 KiB of JSON, far below a frame's limit. */
const PAIRS_PER_RECORD = 2048;

interface Noted {
  /** Trace id, span id, flat. */
  ids: string[];
  /** The segment holding each one's END (or NO_END). */
  ends: number[];
}

const openFile = (path: string, callback: OpenCallback): void => open(path, 'r', callback);

export class SettledSpans {
  readonly #writerDir: string;
  /** START segment -> its spans no longer open that its side file does not list yet. */
  readonly #noted = new Map<number, Noted>();
  /** START segment -> bytes of its side file. */
  readonly #files = new Map<number, number>();
  /** Side files made since the last sync: under 'host' their directory entries are synced too. */
  #created = false;
  /**
   * Side files whose sync failed: synced with the next ones asked for (and that caller's
   * deletions wait for them), since what they hold is no longer noted, and a later sync of
   * other files let the segments they stand for go unsynced.
   */
  readonly #unsynced = new Set<number>();
  /** Bytes of every side file. */
  bytes = 0;

  constructor(writerDir: string) {
    this.#writerDir = writerDir;
  }

  /** A span whose START is in `startSegment` ended in `endSegment`, a later one (or NO_END). */
  note(startSegment: number, traceId: string, spanId: string, endSegment: number): void {
    const noted = this.#noted.get(startSegment);
    if (noted === undefined) {
      this.#noted.set(startSegment, { ids: [traceId, spanId], ends: [endSegment] });
    } else {
      noted.ids.push(traceId, spanId);
      noted.ends.push(endSegment);
    }
  }

  /**
   * Appends to the side file of each segment of `kept` (committed, staying for open STARTs)
   * its spans whose END is in one of `deleting` (or nowhere), before those are deleted.
   * `written`: the kept segments whose side files were written (under 'host' they are
   * synced before `deleting` go). A side file that cannot be written keeps what it was to
   * list noted, and `error` says why: then none of `deleting` may go.
   */
  persistBefore(kept: Iterable<number>, deleting: readonly number[]): { written: number[]; error?: unknown } {
    const goes = new Set(deleting);
    const written: number[] = [];
    let error: unknown;
    for (const segment of kept) {
      const noted = this.#noted.get(segment);
      if (noted === undefined) continue;
      const pairs: string[] = [];
      const left: Noted = { ids: [], ends: [] };
      for (let i = 0; i < noted.ends.length; i++) {
        const end = noted.ends[i]!;
        if (end === NO_END || goes.has(end)) {
          pairs.push(noted.ids[2 * i]!, noted.ids[2 * i + 1]!);
        } else {
          left.ids.push(noted.ids[2 * i]!, noted.ids[2 * i + 1]!);
          left.ends.push(end);
        }
      }
      if (pairs.length === 0) continue;
      try {
        this.#append(segment, pairs);
      } catch (appendError) {
        error ??= appendError;
        continue;
      }
      if (left.ends.length === 0) this.#noted.delete(segment);
      else this.#noted.set(segment, left);
      written.push(segment);
    }
    return error === undefined ? { written } : { written, error };
  }

  #append(segment: number, pairs: string[]): void {
    const created = !this.#files.has(segment);
    const frames: Buffer[] = created ? [SEGMENT_MAGIC] : [];
    for (let from = 0; from < pairs.length; from += 2 * PAIRS_PER_RECORD) {
      const record: SettledRecord = { k: segment, e: pairs.slice(from, from + 2 * PAIRS_PER_RECORD) };
      frames.push(encodeFrame(RecordType.SpansSettled, JSON.stringify(record)));
    }
    const bytes = Buffer.concat(frames);
    if (created) this.#created = true;
    const fd = openSync(settledPath(this.#writerDir, segment), 'a', 0o600);
    try {
      if (created) ownerOnlyFile(fd);
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
    } finally {
      closeSync(fd);
    }
    this.#files.set(segment, (this.#files.get(segment) ?? 0) + bytes.length);
    this.bytes += bytes.length;
  }

  /** Whether a side file's sync failed and has not been made since: deletions wait for it (JournalWriter.deleteSegments). */
  get hasUnsynced(): boolean {
    return this.#unsynced.size > 0;
  }

  /** These segments' side files and those whose sync failed, still on disk. */
  #toSync(segments: readonly number[]): number[] {
    return [...new Set([...segments, ...this.#unsynced])].filter((segment) => this.#files.has(segment));
  }

  /** fsync of these segments' side files (and any whose sync failed), now (a repair's: rare, and it deletes at once). */
  syncNow(segments: readonly number[]): void {
    for (const segment of this.#toSync(segments)) {
      try {
        syncPathNow(settledPath(this.#writerDir, segment));
        this.#unsynced.delete(segment);
      } catch (error) {
        this.#unsynced.add(segment);
        throw error;
      }
    }
    if (this.#created) {
      this.#created = false;
      try {
        syncPathNow(this.#writerDir);
      } catch {
        // Not every filesystem lets a directory be synced (as for a rotation's).
      }
    }
  }

  /**
   * fsync of these segments' side files (and any whose sync failed), one after another on
   * the thread pool, as the writer's other syncs (GroupCommit.ts); `done` gets the first error.
   */
  sync(segments: readonly number[], done: (error: NodeJS.ErrnoException | null) => void): void {
    const files = this.#toSync(segments);
    // A new file's name is in its directory: synced as well, or a power loss could keep the
    // deletions that follow and lose the file.
    const syncDirectory = this.#created;
    this.#created = false;
    let first: NodeJS.ErrnoException | null = null;
    const syncPath = (path: string, then: (error: NodeJS.ErrnoException | null) => void): void =>
      openForSync(openFile, path, (error, fd) => {
        if (error !== null) return then(error);
        fsync(fd, (syncError) => close(fd, () => then(syncError)));
      });
    const next = (at: number): void => {
      const segment = files[at];
      if (segment === undefined) {
        if (!syncDirectory) return done(first);
        // Not every filesystem lets a directory be synced (as for a rotation's).
        return syncPath(this.#writerDir, () => done(first));
      }
      syncPath(settledPath(this.#writerDir, segment), (error) => {
        // Deleted meanwhile (its segment went, or a repair forgot it): nothing left to sync.
        if (error === null || error.code === 'ENOENT') this.#unsynced.delete(segment);
        else {
          this.#unsynced.add(segment);
          first ??= error;
        }
        next(at + 1);
      });
    };
    next(0);
  }

  /**
   * `segment` was deleted: what was noted of its spans goes, and so does its side file
   * (removed now, after the segment: a side file without its segment is read by no one).
   * Returns the side file's bytes.
   */
  forget(segment: number): number {
    this.#noted.delete(segment);
    this.#unsynced.delete(segment);
    const bytes = this.#files.get(segment);
    if (bytes === undefined) return 0;
    this.#files.delete(segment);
    this.bytes -= bytes;
    unlink(settledPath(this.#writerDir, segment), () => {
      // Gone already, or left for the writer's directory to take with it: unread either way.
    });
    return bytes;
  }
}
