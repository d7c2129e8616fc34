// Every payload a writer frames is JSON text from JSON.stringify (or concatenated from its
// pieces): it never holds a byte below 0x20, as JSON escapes control characters. Every frame
// header holds at least two: its type (1 to 9) and its length's top byte (lengths stay below
// 64 MiB). So while the reader resyncs through damage, an offset whose claimed payload holds
// a byte below 0x20 is no frame, without a checksum; and no two offsets that pass can claim
// overlapping payloads (the later one's header would lie inside the earlier one's payload).
// The checksums of damage are then linear in its size however it was crafted.

/** The first byte below 0x20 at or after an offset, found with a pointer that only moves forward. */
export class ControlByteScan {
  // No control byte in [#from, #found); #found is one, or the buffer's end.
  #from = 0;
  #found = -1;

  constructor(private readonly buffer: Buffer) {}

  /** The first control byte at or after `from`, or the buffer's length. Queries in rising order cost O(buffer) in all. */
  firstAtOrAfter(from: number): number {
    if (from >= this.#from && from <= this.#found) return this.#found;
    const buffer = this.buffer;
    let at = from;
    while (at < buffer.length && buffer[at]! >= 0x20) at++;
    this.#from = from;
    this.#found = at;
    return at;
  }
}
