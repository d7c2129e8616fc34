// The span records of a batch read back from disk (ENDs; for recovery also the STARTs of
// spans that never ended), in one buffer, parsed anew for each export attempt
// (JournalBatch says why). The buffers come from a small pool and go
// back to it once their batch is committed: a batch holds its buffer through the
// database round trip, so a new one per batch outlived the scavenges and was freed only by
// a full collection, and until then its memory counted in the process's RSS
// (bench/overload.mjs: 184 MiB of such buffers per 400,000 spans, with tens of MiB
// waiting for the collector at any time; the 64 KiB chunks they were copied from, 320
// MiB more, are now one reused read buffer: JournalTail).
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { SpanEndRecord, SpanStartRecord } from './recordTypes.js';

/**
 * Makes the span of a parsed START or END (an END is a START with more); `tag` is what the
 * record was added with (recovery tells ENDs from the STARTs it turns into crash records).
 * May throw: the record is then counted unreadable.
 */
export type SpanFromRecord = (record: SpanStartRecord | SpanEndRecord, tag: number) => ReadableSpan;

/**
 * Records parsed between two looks at the turn (parseInSlices): a 2048-span batch parsed
 * in one go held the event loop 13-28 ms (bench/batch-drain.mjs); recovery's 1024-span
 * batches parsed in the turn that converts them to rows, twice as long as in slices
 * (bench/recovery.mjs: p99 delay 28 ms, 17 after).
 */
const PARSE_SLICE = 256;
/**
 * And at most about this many bytes of them: 256 records of 4 MiB attributes took 56–73 ms
 * to parse in one turn (a review's dead journal of large records).
 */
const PARSE_SLICE_BYTES = 1024 * 1024;

/** A default batch of ~600-byte ENDs fits; larger ones double it. */
const FIRST_BUFFER_BYTES = 1024 * 1024;
/** Buffers kept for reuse by default: the export loop's batches in flight and the one being read. */
const BUFFERS_KEPT = 4;

/** Buffers for batches' payloads, kept for the next batches once theirs are committed. */
export class PayloadBuffers {
  readonly #free: Buffer[] = [];
  readonly #kept: number;

  /** `kept`: buffers kept for reuse, one per batch in flight plus the one being filled. */
  constructor(kept = BUFFERS_KEPT) {
    this.#kept = kept;
  }

  /** The largest free buffer, or a new one of at least `bytes`. */
  take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) if (best < 0 || this.#free[i]!.length > this.#free[best]!.length) best = i;
    if (best >= 0 && this.#free[best]!.length >= bytes) return this.#free.splice(best, 1)[0]!;
    return Buffer.allocUnsafe(Math.max(bytes, FIRST_BUFFER_BYTES));
  }

  /** Keeps `buffer` for reuse; beyond the number kept the smallest is let go. */
  give(buffer: Buffer): void {
    this.#free.push(buffer);
    if (this.#free.length > this.#kept) {
      this.#free.sort((a, b) => b.length - a.length);
      this.#free.length = this.#kept;
    }
  }
}

/** Collects a batch's span payloads, copied as they are read (the read buffer is reused). */
export class SpanPayloadsBuilder {
  readonly #buffers: PayloadBuffers;
  #bytes: Buffer | undefined;
  #length = 0;
  readonly #ends: number[] = [];
  readonly #tags: number[] = [];

  constructor(buffers: PayloadBuffers) {
    this.#buffers = buffers;
  }

  get count(): number {
    return this.#ends.length;
  }

  /** Bytes of the payloads added so far. */
  get bytes(): number {
    return this.#length;
  }

  add(payload: Buffer, tag = 0): void {
    const needed = this.#length + payload.length;
    if (this.#bytes === undefined || this.#bytes.length < needed) {
      const bigger = this.#buffers.take(this.#bytes === undefined ? needed : Math.max(needed, 2 * this.#bytes.length));
      if (this.#bytes !== undefined) {
        this.#bytes.copy(bigger, 0, 0, this.#length);
        this.#buffers.give(this.#bytes);
      }
      this.#bytes = bigger;
    }
    payload.copy(this.#bytes, this.#length);
    this.#length = needed;
    this.#ends.push(needed);
    this.#tags.push(tag);
  }

  build(spanOf: SpanFromRecord): SpanPayloads {
    return new SpanPayloads(this.#bytes, this.#ends, this.#tags, spanOf, this.#buffers);
  }
}

/** The payloads of span records read from disk, in one buffer. */
export class SpanPayloads {
  #bytes: Buffer | undefined;
  /** Where each payload ends in `#bytes` (each starts where the one before ends). */
  readonly #ends: readonly number[];
  readonly #tags: readonly number[];
  readonly #spanOf: SpanFromRecord;
  readonly #buffers: PayloadBuffers;
  /** Unreadable records by tag, as the last parse() found them. */
  #unreadable: Map<number, number> | undefined;
  /** Indexes of the records the last parse() could not read. */
  #unreadableAt: number[] = [];

  constructor(bytes: Buffer | undefined, ends: readonly number[], tags: readonly number[], spanOf: SpanFromRecord, buffers: PayloadBuffers) {
    this.#bytes = bytes;
    this.#ends = ends;
    this.#tags = tags;
    this.#spanOf = spanOf;
    this.#buffers = buffers;
  }

  get count(): number {
    return this.#ends.length;
  }

  /**
   * Where a slice from `from` ends: after `maxRecords` payloads, or after the payload that
   * reaches `maxBytes`, whichever comes first (one payload at least).
   */
  sliceEnd(from: number, maxRecords: number, maxBytes: number): number {
    const start = from === 0 ? 0 : this.#ends[from - 1]!;
    const last = Math.min(from + maxRecords, this.#ends.length);
    let to = from + 1;
    while (to < last && this.#ends[to - 1]! - start < maxBytes) to += 1;
    return Math.min(to, this.#ends.length);
  }

  /**
   * Parses the payloads from `from` to `to` (default: all); one that does not parse (a
   * writer's bug: its checksum held) is skipped and counted. A pass over the batch may come
   * in ranges, in order: the counts start again at `from` 0.
   */
  parse(into: ReadableSpan[], from = 0, to = this.#ends.length): number {
    const bytes = this.#bytes;
    if (bytes === undefined) {
      if (this.#ends.length === 0) return 0;
      throw new Error('otel-blackbox: a committed journal batch was read again');
    }
    let unreadable = 0;
    let start = from === 0 ? 0 : this.#ends[from - 1]!;
    if (from === 0) {
      this.#unreadable = undefined;
      this.#unreadableAt = [];
    }
    for (let i = from; i < Math.min(to, this.#ends.length); i++) {
      const end = this.#ends[i]!;
      const tag = this.#tags[i]!;
      try {
        into.push(this.#spanOf(JSON.parse(bytes.toString('utf8', start, end)) as SpanStartRecord | SpanEndRecord, tag));
      } catch {
        unreadable += 1;
        this.#unreadable ??= new Map();
        this.#unreadable.set(tag, (this.#unreadable.get(tag) ?? 0) + 1);
        this.#unreadableAt.push(i);
      }
      start = end;
    }
    return unreadable;
  }

  /**
   * All payloads parsed into `into`, a slice at a time, awaiting what `betweenSlices()`
   * returns (TurnBudget.pace) before each slice after the first; returns how many did not
   * parse (see parse()).
   */
  async parseInSlices(into: ReadableSpan[], betweenSlices: () => Promise<void> | undefined): Promise<number> {
    let unreadable = 0;
    for (let from = 0; from < this.#ends.length; ) {
      if (from > 0) {
        const wait = betweenSlices();
        if (wait) await wait;
      }
      const to = this.sliceEnd(from, PARSE_SLICE, PARSE_SLICE_BYTES);
      unreadable += this.parse(into, from, to);
      from = to;
    }
    return unreadable;
  }

  /** Records added with `tag` that the last pass of parse() could not read. */
  unreadableWith(tag: number): number {
    return this.#unreadable?.get(tag) ?? 0;
  }

  /** The tag of each span the last pass of parse() made, by its position among them. */
  parsedTags(): number[] {
    if (this.#unreadableAt.length === 0) return [...this.#tags];
    const skipped = new Set(this.#unreadableAt);
    return this.#tags.filter((_, i) => !skipped.has(i));
  }

  /** The batch is committed: its buffer goes back for the next batches. */
  release(): void {
    if (this.#bytes !== undefined) this.#buffers.give(this.#bytes);
    this.#bytes = undefined;
  }
}
