// Deletes a writer's committed segment files on the thread pool, oldest first, one after
// another: a later segment deleted before an earlier one could leave the earlier one's
// STARTs without their ENDs at a crash. Unlinking an 8 MiB segment took ~1.3 ms of the
// event loop here (freeing its page cache), hence the thread pool.
import { safeDiag } from '../safeDiag.js';
import { unlink } from '../untracedFs.js';
import { segmentPath } from './journalPaths.js';

export interface UnlinkOutcome {
  /** `segment`'s file is gone (or was already): the writer forgets it. */
  unlinked(segment: number): void;
  /** One could not be removed: it and every later one stay, given back in order. */
  kept(segments: number[]): void;
}

export class SegmentUnlinker {
  readonly #writerDir: string;
  readonly #outcome: UnlinkOutcome;
  /** Segments to delete, oldest first. */
  readonly #queue: number[] = [];
  #unlinking = false;
  #failureSaid = false;

  constructor(writerDir: string, outcome: UnlinkOutcome) {
    this.#writerDir = writerDir;
    this.#outcome = outcome;
  }

  get queued(): number {
    return this.#queue.length;
  }

  has(segment: number): boolean {
    return this.#queue.includes(segment);
  }

  queue(segments: readonly number[]): void {
    this.#queue.push(...segments);
    this.#queue.sort((a, b) => a - b);
    this.#next();
  }

  /** Empties the queue (the writer closes): those segments stay on disk. */
  takeAll(): number[] {
    return this.#queue.splice(0);
  }

  /**
   * Unlinks the oldest queued segment, then its side file (read without its segment, it
   * would say nothing: the caller's unlinked()), then the next. One that cannot be removed
   * (not ENOENT) stops the queue: it and every later one are given back, to be queued
   * again at the next release.
   */
  #next(): void {
    if (this.#unlinking || this.#queue.length === 0) return;
    this.#unlinking = true;
    const number = this.#queue[0]!;
    unlink(segmentPath(this.#writerDir, number), (error) => {
      this.#unlinking = false;
      // By value: an older one queued meanwhile went to the front. Not there: the writer
      // closed meanwhile, and the queue with it.
      const at = this.#queue.indexOf(number);
      if (at < 0) return;
      if (error === null || error.code === 'ENOENT') {
        this.#queue.splice(at, 1);
        this.#outcome.unlinked(number);
        this.#failureSaid = false;
        this.#next();
        return;
      }
      this.#outcome.kept(this.#queue.splice(0));
      // Said once until one goes again: a segment that can never be removed (EACCES, an
      // immutable file) keeps every later one, and the journal fills up to maxJournalBytes.
      if (!this.#failureSaid) {
        this.#failureSaid = true;
        safeDiag.warn(`otel-blackbox: journal segment ${segmentPath(this.#writerDir, number)} could not be deleted (${error.code ?? error.message}); it and the segments after it stay until a later commit deletes them`);
      }
    });
  }
}
