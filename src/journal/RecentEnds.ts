// The most recently written END (and LOG) records, kept as the objects they were written from,
// with their positions in the journal. While the export side keeps up, it takes spans from
// here instead of reading back and parsing what was just written; when it falls behind
// (an outage, a burst), everything held is let go and nothing more is held until it has
// read from disk up to the writer again: spans held for a reader that will not take them
// live long enough to reach the old generation, and under sustained overload that garbage
// was most of the processor's memory growth (bench/overload.mjs). The journal on disk is
// unchanged either way: this only saves the read-back.
//
// So the window is small, in records and in characters: what it holds while a burst is
// being written, until the reader takes it or the window overflows, survives that burst's
// scavenges and is promoted. Holding 4,096 spans, the overload bench's peak RSS grew +56
// to +96 MiB over five runs; holding 1,024, +45 to +49 over four, at the same throughput
// (the end-to-end bench did not move).
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { isAtOrAfter } from './JournalPosition.js';
import type { JournalPosition } from './JournalPosition.js';
import type { ReadableLogRecord } from '../logRecordTypes.js';

/** A log record as the application emitted it, with its sequence number in the journal (a class: see HeldEnd). */
export class HeldLog {
  readonly logRecord: ReadableLogRecord;
  readonly sequence: number;

  constructor(logRecord: ReadableLogRecord, sequence: number) {
    this.logRecord = logRecord;
    this.sequence = sequence;
  }
}

export interface RecentEnd {
  /** One of the two: an ended span, or a log record. */
  span?: ReadableSpan;
  log?: HeldLog;
  segment: number;
  /** Offset just past the END frame: where a reader stands after it. */
  end: number;
  /** Characters of its JSON: what it weighs in a batch (MAX_BATCH_CHARS). */
  chars: number;
}

/**
 * A class, not an object literal: entries live until the tail takes them, long enough for
 * V8 to pretenure a literal's site, and an entry made in the old generation keeps the
 * application's span alive until a full collection (see ConvertedSpanRow in postgres/spanRows.ts).
 */
class HeldEnd implements RecentEnd {
  readonly span?: ReadableSpan;
  readonly log?: HeldLog;
  readonly segment: number;
  readonly end: number;
  readonly chars: number;

  constructor(span: ReadableSpan | undefined, log: HeldLog | undefined, segment: number, end: number, chars: number) {
    this.span = span;
    this.log = log;
    this.segment = segment;
    this.end = end;
    this.chars = chars;
  }
}

/** Characters of JSON the window holds at most (a few spans of megabytes are read back instead). */
export const RECENT_ENDS_CHARS = 4 * 1024 * 1024;

/**
 * Records the window holds for an export side that takes `batchSize` at a time: the batch
 * the export loop takes next and the one after (batches in flight hold their own spans),
 * and no fewer than 1,024: with small batches, bursts of a few hundred spans would all be
 * read back from disk on the application's thread (a review measured 8-10 µs a span with
 * a window of 2). Beyond it the tail reads back from disk: a larger window is what a burst
 * promotes to the old generation.
 */
export function recentEndsCapacity(batchSize = 0): number {
  return Math.max(1024, 2 * batchSize);
}

/** What a slot before the head holds once its entry was taken or skipped. */
const RELEASED: RecentEnd = { segment: 0, end: 0, chars: 0 };

export class RecentEnds {
  private entries: RecentEnd[] = [];
  private head = 0;
  /** Every END written after this position (segment, offset) is held here (until taken): two numbers, not an object per END. */
  private fromSegment = 1;
  private fromOffset = 0;
  /** False from the moment the reader falls a whole window behind until it catches up. */
  private holding = true;
  /** Characters of JSON held from the head on: what the window weighs. */
  private heldChars = 0;
  private readonly capacity: number;
  private readonly capacityChars: number;

  /** At most `capacity` records, and `capacityChars` characters of their JSON, held at once. */
  constructor(capacity: number, capacityChars: number) {
    this.capacity = capacity;
    this.capacityChars = capacityChars;
  }

  /** An END (`span`) or LOG (`log`) written to end at `end` in `segment`: held while holding, else only its position is kept. */
  push(span: ReadableSpan | undefined, log: HeldLog | undefined, segment: number, end: number, chars: number): void {
    if (this.holding) {
      this.entries.push(new HeldEnd(span, log, segment, end, chars));
      this.heldChars += chars;
      if (this.entries.length - this.head <= this.capacity && this.heldChars <= this.capacityChars) {
        if (this.head > 4096 && this.head * 2 > this.entries.length) this.compact();
        return;
      }
      this.holding = false;
      this.entries = [];
      this.head = 0;
      this.heldChars = 0;
    }
    this.fromSegment = segment;
    this.fromOffset = end;
  }

  /**
   * Lets go of everything held, and holds nothing until the reader has read from disk up to
   * an END pushed from now on: the repair of a removed segment (SegmentRescue.ts) writes
   * its records again, and the reader must take the copies, not these.
   */
  letGo(): void {
    this.holding = false;
    this.entries = [];
    this.head = 0;
    this.heldChars = 0;
    this.fromSegment = Infinity;
    this.fromOffset = 0;
  }

  /**
   * Up to `max` ENDs written right after `position`, holding at most `maxChars` characters
   * of JSON (one at least), or undefined when some END after `position` is not held here
   * (the reader must go to disk).
   */
  takeAfter(position: JournalPosition, max: number, maxChars = Infinity): RecentEnd[] | undefined {
    if (!isAtOrAfter(position, { segment: this.fromSegment, offset: this.fromOffset })) return undefined;
    // Caught up with the writer: hold what it writes from now on.
    this.holding = true;
    const first = this.head;
    while (this.head < this.entries.length && isAtOrAfter(position, { segment: this.entries[this.head].segment, offset: this.entries[this.head].end })) {
      this.heldChars -= this.entries[this.head].chars;
      this.head += 1;
    }
    const limit = Math.min(max, this.entries.length - this.head);
    let count = 0;
    let chars = 0;
    while (count < limit && chars < maxChars) chars += this.entries[this.head + count++].chars;
    const taken = this.entries.slice(this.head, this.head + count);
    this.head += count;
    this.heldChars -= chars;
    if (taken.length > 0) {
      const last = taken[taken.length - 1];
      this.fromSegment = last.segment;
      this.fromOffset = last.end;
    }
    this.release(first);
    return taken;
  }

  /**
   * Lets go of the entries before the head at once. Kept until compaction, they kept every
   * span already taken alive: each scavenge copied thousands of dead spans and promoted
   * them (in bench/processor-overhead.mjs a scavenge took 4.7 ms against the stock
   * processor's 0.7 ms, about 2 µs per span).
   */
  private release(from: number): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
      this.heldChars = 0;
    } else {
      this.entries.fill(RELEASED, from, this.head);
    }
  }

  private compact(): void {
    this.entries = this.entries.slice(this.head);
    this.head = 0;
  }
}
