// The SPAN_END payloads of a batch read back from disk, in one buffer, parsed anew for
// each export attempt (JournalBatch says why). The buffers come from a small pool and go
// back to it once their batch is committed: a batch holds its buffer through the
// database round trip, so a new one per batch outlived the scavenges and was freed only by
// a full collection, and until then its memory counted in the process's RSS
// (bench/overload.mjs: 184 MiB of such buffers per 400,000 spans, with tens of MiB
// waiting for the collector at any time; the 64 KiB chunks they were copied from, 320
// MiB more, are now one reused read buffer: JournalTail).
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { readableSpanFromRecord } from './readableSpanFromRecord.js';
import type { SpanEndRecord } from './recordTypes.js';

/** A default batch of ~600-byte ENDs fits; larger ones double it. */
const FIRST_BUFFER_BYTES = 1024 * 1024;
/** Buffers kept for reuse: the batches in flight and the one being read, by default. */
const BUFFERS_KEPT = 4;

/** Buffers for batches' payloads, kept for the next batches once theirs are committed. */
export class PayloadBuffers {
  readonly #free: Buffer[] = [];

  /** The largest free buffer, or a new one of at least `bytes`. */
  take(bytes: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) if (best < 0 || this.#free[i]!.length > this.#free[best]!.length) best = i;
    if (best >= 0 && this.#free[best]!.length >= bytes) return this.#free.splice(best, 1)[0]!;
    return Buffer.allocUnsafe(Math.max(bytes, FIRST_BUFFER_BYTES));
  }

  /** Keeps `buffer` for reuse; beyond BUFFERS_KEPT the smallest is let go. */
  give(buffer: Buffer): void {
    this.#free.push(buffer);
    if (this.#free.length > BUFFERS_KEPT) {
      this.#free.sort((a, b) => b.length - a.length);
      this.#free.length = BUFFERS_KEPT;
    }
  }
}

/** Collects a batch's END payloads, copied as they are read (the read buffer is reused). */
export class SpanPayloadsBuilder {
  readonly #buffers: PayloadBuffers;
  #bytes: Buffer | undefined;
  #length = 0;
  readonly #ends: number[] = [];

  constructor(buffers: PayloadBuffers) {
    this.#buffers = buffers;
  }

  get count(): number {
    return this.#ends.length;
  }

  add(payload: Buffer): void {
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
  }

  build(resourceById: (id: number) => Resource): SpanPayloads {
    return new SpanPayloads(this.#bytes, this.#ends, resourceById, this.#buffers);
  }
}

/** The payloads of SPAN_END records read from disk, in one buffer. */
export class SpanPayloads {
  #bytes: Buffer | undefined;
  /** Where each payload ends in `#bytes` (each starts where the one before ends). */
  readonly #ends: readonly number[];
  readonly #resourceById: (id: number) => Resource;
  readonly #buffers: PayloadBuffers;

  constructor(bytes: Buffer | undefined, ends: readonly number[], resourceById: (id: number) => Resource, buffers: PayloadBuffers) {
    this.#bytes = bytes;
    this.#ends = ends;
    this.#resourceById = resourceById;
    this.#buffers = buffers;
  }

  get count(): number {
    return this.#ends.length;
  }

  /** Parses every payload; one that does not parse (a writer's bug: its checksum held) is skipped and counted. */
  parse(into: ReadableSpan[]): number {
    const bytes = this.#bytes;
    if (bytes === undefined) {
      if (this.#ends.length === 0) return 0;
      throw new Error('otel-blackbox: a committed journal batch was read again');
    }
    let unreadable = 0;
    let start = 0;
    for (const end of this.#ends) {
      try {
        const record = JSON.parse(bytes.toString('utf8', start, end)) as SpanEndRecord;
        into.push(readableSpanFromRecord(record, this.#resourceById(record.r)));
      } catch {
        unreadable += 1;
      }
      start = end;
    }
    return unreadable;
  }

  /** The batch is committed: its buffer goes back for the next batches. */
  release(): void {
    if (this.#bytes !== undefined) this.#buffers.give(this.#bytes);
    this.#bytes = undefined;
  }
}
