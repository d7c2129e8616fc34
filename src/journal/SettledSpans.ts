// Spans that are no longer open, by the closed segment that holds their START. A committed
// segment is deleted once no open span's START is left in it, except one that is mostly
// such STARTs (long jobs, a leak): it stays until they end (JournalWriter.releaseSegments).
// Segments after it go as usual, and with them the ENDs of spans that started in it: after
// a crash, recovery would read those STARTs with no END and write crash records for spans
// that had ended, and whose rows were committed. So before a later segment goes, the spans
// of each kept segment that have ended are written down (a SETTLED record, in the live
// segment), and written again when the segment holding that record goes in turn.
//
// Memory: two string references per span that ended in a later segment than its START,
// until that segment is deleted: for most segments at the next commit, for a kept one at
// most its own STARTs. Pinning the later segments instead (an earlier attempt) pinned every
// one: each holds the ENDs of spans that started in the one before.
import type { SettledRecord } from './recordTypes.js';

/** Pairs per SETTLED record: ~100 KiB of JSON, far below a frame's limit. */
const PAIRS_PER_RECORD = 2048;

export class SettledSpans {
  /** START segment -> trace id, span id of its spans that ended since, flat. */
  readonly #bySegment = new Map<number, string[]>();
  /** START segment -> the segments its latest SETTLED records are in, and how many pairs they list. */
  readonly #journaled = new Map<number, { in: number[]; pairs: number }>();

  /** A span whose START is in `segment` (an earlier one than where it ended) is no longer open. */
  note(segment: number, traceId: string, spanId: string): void {
    const list = this.#bySegment.get(segment);
    if (list === undefined) this.#bySegment.set(segment, [traceId, spanId]);
    else list.push(traceId, spanId);
  }

  /**
   * Writes the SETTLED records that must be in the journal before `deleting` go, for each
   * of `kept` (segments that stay for open STARTs) that a deleted segment comes after,
   * unless its latest records already list every span that ended and none of them is in a
   * segment being deleted. `write` writes one and returns the segment it landed in, or
   * undefined when it could not: then nothing may be deleted, and false is returned.
   * Returns 'written' when something was written (under 'host' it must be synced first).
   */
  journalBefore(kept: readonly number[], deleting: readonly number[], write: (json: string) => number | undefined): 'written' | 'none' | false {
    let wrote = false;
    for (const segment of kept) {
      const list = this.#bySegment.get(segment);
      if (list === undefined || !deleting.some((deleted) => deleted > segment)) continue;
      const journaled = this.#journaled.get(segment);
      if (journaled !== undefined && journaled.pairs === list.length / 2 && !journaled.in.some((at) => deleting.includes(at))) continue;
      const landedIn: number[] = [];
      for (let from = 0; from < list.length; from += 2 * PAIRS_PER_RECORD) {
        const record: SettledRecord = { k: segment, e: list.slice(from, from + 2 * PAIRS_PER_RECORD) };
        const at = write(JSON.stringify(record));
        if (at === undefined) return false;
        if (!landedIn.includes(at)) landedIn.push(at);
      }
      this.#journaled.set(segment, { in: landedIn, pairs: list.length / 2 });
      wrote = true;
    }
    return wrote ? 'written' : 'none';
  }

  /** `segment` is deleted: its spans are nowhere to be taken for open. */
  forget(segment: number): void {
    this.#bySegment.delete(segment);
    this.#journaled.delete(segment);
  }
}
