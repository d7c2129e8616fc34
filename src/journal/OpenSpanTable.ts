// The spans the journal holds open (their START journaled, or still to be), whose END is
// not journaled yet, by trace id and span id, in the order they started. Both, as the
// database's key: a span id is unique within its trace only, and a span of another trace
// that ends under a running span's id must not end it.
// A Map did this until an allocation profile of bench/overload.mjs showed it: a long-lived
// Map's table sits in the old generation, and V8 rebuilds it there every
// few set/delete pairs (deleted slots fill it up; an emptied table shrinks), so a span
// started and ended cost a Map 100–280 ns and ~145 bytes of old-generation garbage, 60% of
// what the application's side promoted. This table allocates nothing once grown: open
// addressing with linear probing and backward-shift deletion (no tombstones, so no
// rebuilds), over entries that keep their index until the table is resized, linked in start order.
// Each entry also holds a number of the caller's, its mark (the journal: the segment that
// holds the span's START), kept in a typed array so that it costs no allocation either.
const EMPTY = -1;
const MIN_CAPACITY = 16;

export class OpenSpanTable<V> {
  /** Hash slots: an entry's index, or EMPTY. Twice the entries' capacity (load ≤ 1/2). */
  #slots = new Int32Array(2 * MIN_CAPACITY).fill(EMPTY);
  #spanIds: (string | undefined)[] = new Array<string | undefined>(MIN_CAPACITY).fill(undefined);
  #traceIds: (string | undefined)[] = new Array<string | undefined>(MIN_CAPACITY).fill(undefined);
  #values: (V | undefined)[] = new Array<V | undefined>(MIN_CAPACITY).fill(undefined);
  #hashes = new Int32Array(MIN_CAPACITY);
  #marks = new Int32Array(MIN_CAPACITY);
  /** Start order: a doubly linked list of entry indexes. Free entries are chained by #next. */
  #prev = new Int32Array(MIN_CAPACITY);
  #next = new Int32Array(MIN_CAPACITY);
  #head = EMPTY;
  #tail = EMPTY;
  #free = EMPTY;
  #used = 0;
  #size = 0;
  /**
   * One reader's place in start order (the pending-span scan): the entries up to it were
   * read. When its entry is removed it moves back to the one before, so reading on starts
   * at the first entry not yet read, whatever ended meanwhile: a pass costs the entries it
   * reads, not the table's size. EMPTY: before the first entry.
   */
  #bookmark = EMPTY;

  get size(): number {
    return this.#size;
  }

  /**
   * The mark of the entry get() or take() found last (valid until the next call of either):
   * the value and its mark from one lookup.
   */
  lastMark = 0;

  get(traceId: string, spanId: string): V | undefined {
    const entry = this.#find(traceId, spanId, hashOf(traceId, spanId));
    if (entry === EMPTY) return undefined;
    this.lastMark = this.#marks[entry]!;
    return this.#values[entry];
  }

  /** Removes the entry and returns its value, its mark in `lastMark`: one lookup for the journal's END path, once per span. */
  take(traceId: string, spanId: string): V | undefined {
    const slot = this.#slotOf(traceId, spanId);
    if (slot === EMPTY) return undefined;
    const entry = this.#slots[slot];
    const value = this.#values[entry];
    this.lastMark = this.#marks[entry]!;
    this.#removeAt(slot);
    return value;
  }

  /**
   * A key already present gets `value` and `mark`, and keeps its place in start order (as
   * Map does) while its value is the same: another value under the same ids is another
   * span (an id generator that repeats ids), started now, so it goes to the end, unread.
   */
  set(traceId: string, spanId: string, value: V, mark = 0): void {
    const hash = hashOf(traceId, spanId);
    const found = this.#find(traceId, spanId, hash);
    if (found !== EMPTY) {
      if (this.#values[found] !== value) {
        this.#unlink(found);
        this.#link(found);
      }
      this.#values[found] = value;
      this.#marks[found] = mark;
      return;
    }
    // Every entry in use: double the room.
    if (this.#size === this.#spanIds.length) this.#resize(this.#spanIds.length * 2);
    const entry = this.#allocate();
    this.#spanIds[entry] = spanId;
    this.#traceIds[entry] = traceId;
    this.#values[entry] = value;
    this.#hashes[entry] = hash;
    this.#marks[entry] = mark;
    this.#link(entry);
    this.#place(entry, hash);
    this.#size += 1;
  }

  delete(traceId: string, spanId: string): boolean {
    const slot = this.#slotOf(traceId, spanId);
    if (slot === EMPTY) return false;
    this.#removeAt(slot);
    return true;
  }

  /** The hash slot that holds the entry, or EMPTY. */
  #slotOf(traceId: string, spanId: string): number {
    const mask = this.#slots.length - 1;
    let slot = hashOf(traceId, spanId) & mask;
    for (;;) {
      const entry = this.#slots[slot];
      if (entry === EMPTY) return EMPTY;
      if (this.#spanIds[entry] === spanId && this.#traceIds[entry] === traceId) return slot;
      slot = (slot + 1) & mask;
    }
  }

  #removeAt(slot: number): void {
    const entry = this.#slots[slot];
    this.#removeSlot(slot);
    this.#release(entry);
    this.#size -= 1;
  }

  /** Oldest first. Deleting the entry just yielded is safe; other changes during iteration are not. */
  *values(): IterableIterator<V> {
    for (let entry = this.#head; entry !== EMPTY; ) {
      const next = this.#next[entry];
      yield this.#values[entry]!;
      entry = next;
    }
  }

  /**
   * Visits every entry, oldest first, with its mark; the mark becomes what `visit` returns.
   * `visit` must not change the table.
   */
  remark(visit: (value: V, mark: number) => number): void {
    for (let entry = this.#head; entry !== EMPTY; entry = this.#next[entry]) {
      this.#marks[entry] = visit(this.#values[entry]!, this.#marks[entry]);
    }
  }

  /** Visits every entry, oldest first, with its mark, and changes nothing. `visit` must not change the table. */
  forEachMark(visit: (value: V, mark: number) => void): void {
    for (let entry = this.#head; entry !== EMPTY; entry = this.#next[entry]) visit(this.#values[entry]!, this.#marks[entry]);
  }

  /** The oldest value after the bookmark, its mark in `lastMark`; undefined when every entry was read. */
  afterBookmark(): V | undefined {
    const entry = this.#bookmark === EMPTY ? this.#head : this.#next[this.#bookmark]!;
    if (entry === EMPTY) return undefined;
    this.lastMark = this.#marks[entry]!;
    return this.#values[entry];
  }

  /** Moves the bookmark onto the entry afterBookmark() returned: it is read. */
  advanceBookmark(): void {
    const entry = this.#bookmark === EMPTY ? this.#head : this.#next[this.#bookmark]!;
    if (entry !== EMPTY) this.#bookmark = entry;
  }

  /** Whether some entry has `mark`. */
  hasMark(mark: number): boolean {
    for (let entry = this.#head; entry !== EMPTY; entry = this.#next[entry]) if (this.#marks[entry] === mark) return true;
    return false;
  }

  #find(traceId: string, spanId: string, hash: number): number {
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    for (;;) {
      const entry = this.#slots[slot];
      if (entry === EMPTY || (this.#spanIds[entry] === spanId && this.#traceIds[entry] === traceId)) return entry;
      slot = (slot + 1) & mask;
    }
  }

  #place(entry: number, hash: number): void {
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    while (this.#slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.#slots[slot] = entry;
  }

  /** Empties `slot` and moves later entries of its probe run back, so every lookup still finds them. */
  #removeSlot(slot: number): void {
    const mask = this.#slots.length - 1;
    let hole = slot;
    for (let at = (hole + 1) & mask; this.#slots[at] !== EMPTY; at = (at + 1) & mask) {
      const home = this.#hashes[this.#slots[at]] & mask;
      // The entry at `at` may move into the hole only if its home is not in (hole, at] (cyclically).
      const homeAfterHole = hole <= at ? home > hole && home <= at : home > hole || home <= at;
      if (homeAfterHole) continue;
      this.#slots[hole] = this.#slots[at];
      hole = at;
    }
    this.#slots[hole] = EMPTY;
  }

  #allocate(): number {
    if (this.#free !== EMPTY) {
      const entry = this.#free;
      this.#free = this.#next[entry];
      return entry;
    }
    return this.#used++;
  }

  #link(entry: number): void {
    this.#prev[entry] = this.#tail;
    this.#next[entry] = EMPTY;
    if (this.#tail === EMPTY) this.#head = entry;
    else this.#next[this.#tail] = entry;
    this.#tail = entry;
  }

  /** Takes the entry out of start order; the bookmark on it steps back to the one before. */
  #unlink(entry: number): void {
    const prev = this.#prev[entry];
    if (entry === this.#bookmark) this.#bookmark = prev;
    const next = this.#next[entry];
    if (prev === EMPTY) this.#head = next;
    else this.#next[prev] = next;
    if (next === EMPTY) this.#tail = prev;
    else this.#prev[next] = prev;
  }

  #release(entry: number): void {
    this.#unlink(entry);
    this.#spanIds[entry] = undefined;
    this.#traceIds[entry] = undefined;
    this.#values[entry] = undefined;
    this.#next[entry] = this.#free;
    this.#free = entry;
  }

  /** How many entries the arrays have room for: what the table holds on to, whatever its size. */
  get capacity(): number {
    return this.#spanIds.length;
  }

  /**
   * Gives back the room a burst of open spans grew the table to, once an eighth or less of
   * it is used: after a million spans open at once (a stall downstream, a leak fixed by a
   * deploy), 48 MB stayed for the life of the process. Renumbers the entries into arrays
   * twice their count (start order, marks and the bookmark kept), so the next doubling is
   * as far away as it can be; O(size), a quarter of what the growth to this capacity cost.
   * The caller picks the moment (the journal: a commit, not a span call), and must not be
   * iterating. True when it shrank.
   */
  shrinkIfSparse(): boolean {
    const capacity = this.#spanIds.length;
    if (capacity <= MIN_CAPACITY || this.#size * 8 > capacity) return false;
    let smaller = MIN_CAPACITY;
    while (smaller < this.#size * 2) smaller *= 2;
    this.#resize(smaller);
    return true;
  }

  /**
   * New arrays of `capacity` entries (at least the size), the entries renumbered into them
   * in start order, with their marks and the bookmark; the slots filled anew.
   */
  #resize(capacity: number): void {
    const spanIds = new Array<string | undefined>(capacity).fill(undefined);
    const traceIds = new Array<string | undefined>(capacity).fill(undefined);
    const values = new Array<V | undefined>(capacity).fill(undefined);
    const hashes = new Int32Array(capacity);
    const marks = new Int32Array(capacity);
    const prev = new Int32Array(capacity);
    const next = new Int32Array(capacity);
    let bookmark = EMPTY;
    let renumbered = 0;
    for (let entry = this.#head; entry !== EMPTY; entry = this.#next[entry], renumbered++) {
      spanIds[renumbered] = this.#spanIds[entry];
      traceIds[renumbered] = this.#traceIds[entry];
      values[renumbered] = this.#values[entry];
      hashes[renumbered] = this.#hashes[entry];
      marks[renumbered] = this.#marks[entry];
      prev[renumbered] = renumbered - 1;
      next[renumbered] = renumbered + 1;
      if (entry === this.#bookmark) bookmark = renumbered;
    }
    if (renumbered > 0) next[renumbered - 1] = EMPTY;
    this.#spanIds = spanIds;
    this.#traceIds = traceIds;
    this.#values = values;
    this.#hashes = hashes;
    this.#marks = marks;
    this.#prev = prev;
    this.#next = next;
    this.#head = renumbered > 0 ? 0 : EMPTY;
    this.#tail = renumbered - 1; // EMPTY when there are none
    this.#bookmark = bookmark;
    this.#free = EMPTY;
    this.#used = renumbered;
    this.#slots = new Int32Array(2 * capacity).fill(EMPTY);
    for (let entry = 0; entry < renumbered; entry++) this.#place(entry, hashes[entry]);
  }
}

/**
 * FNV-1a over the span id and the trace id: ids are random, but an id generator of the
 * application's may not be, and one that repeats span ids across traces must not pile them
 * into one probe run.
 */
function hashOf(traceId: string, spanId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < spanId.length; i++) hash = Math.imul(hash ^ spanId.charCodeAt(i), 0x01000193);
  // All of the trace id: hashed on its last 8 characters only, trace ids that differ
  // elsewhere (a generator that counts) with one span id made one probe chain of every
  // entry (40,000 open: 10.6 s to insert them, each onStart longer than the last).
  for (let i = 0; i < traceId.length; i++) hash = Math.imul(hash ^ traceId.charCodeAt(i), 0x01000193);
  return hash;
}
