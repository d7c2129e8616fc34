// Memory for one batch's binary arrays (binaryArray.ts), taken from blocks that go back to
// a pool once the batch is done, so batch after batch reuses the same few megabytes. With
// a new buffer per array, the arrays, held from binding to the end of the batch's round
// trip, outlived the scavenges, were freed only by full collections, and piled up
// meanwhile: tens of MiB of buffers awaiting the collector in bench/overload.mjs, whose
// growth also set off most of its full collections.

/** Most batches' arrays fit in one or two blocks; a larger array gets a buffer of its own. */
const BLOCK_BYTES = 1024 * 1024;
/** Blocks kept for reuse: enough for the batches in flight. */
const BLOCKS_KEPT = 8;
const free: Buffer[] = [];

export class ParameterArena {
  #blocks: Buffer[] = [];
  #current: Buffer | undefined;
  #used = 0;

  /** `bytes` of room; `commit()` then keeps what was written of them. */
  reserve(bytes: number): Buffer {
    if (bytes > BLOCK_BYTES) return Buffer.allocUnsafe(bytes);
    if (this.#current === undefined || BLOCK_BYTES - this.#used < bytes) {
      this.#current = free.pop() ?? Buffer.allocUnsafe(BLOCK_BYTES);
      this.#blocks.push(this.#current);
      this.#used = 0;
    }
    return this.#current.subarray(this.#used, this.#used + bytes);
  }

  /** Keeps the first `length` bytes of the last reservation (aligned, so the next starts on 8). */
  commit(reserved: Buffer, length: number): Buffer {
    if (reserved.buffer === this.#current?.buffer) this.#used += (length + 7) & ~7;
    return reserved.subarray(0, length);
  }

  /** A copy of `bytes` in the arena. */
  copy(bytes: Buffer): Buffer {
    const room = this.reserve(bytes.length);
    bytes.copy(room);
    return this.commit(room, bytes.length);
  }

  /** The batch is done (nothing will send its arrays again): its blocks go back to the pool. */
  release(): void {
    for (const block of this.#blocks) if (free.length < BLOCKS_KEPT) free.push(block);
    this.#blocks = [];
    this.#current = undefined;
    this.#used = 0;
  }
}
