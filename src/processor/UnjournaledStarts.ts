// Spans started while the processor had no journal at all (journalDir unusable since it
// started), durability 'process' or 'host'. A journal that breaks
// later marks such spans itself and carries their STARTs when it is repaired; with no
// journal object, nothing did: still open at a clean shutdown, they reached no row, no
// crash record and no count, and once the directory came back a kill left no crash record
// of them either (a review). Held weakly, as the journal holds open spans: an application
// that drops spans without ending them must not make this hold them for good.
import type { Span } from '@opentelemetry/sdk-trace';

/** Collected refs are swept once this many more spans have been added since the last sweep. */
const SWEEP_EVERY = 4096;

export class UnjournaledStarts {
  readonly #refs = new Set<WeakRef<Span>>();
  readonly #refOf = new WeakMap<Span, WeakRef<Span>>();
  #addedSinceSweep = 0;
  /** Spans the application dropped without ending them, found by a sweep and not yet taken (takeCollected). */
  #collected = 0;
  /** Spans counted as dropped at shutdown (countOpenAsDropped): their END, if it comes, is not recorded too. */
  readonly #countedAsDropped = new WeakSet<object>();

  get size(): number {
    return this.#refs.size;
  }

  started(span: Span): void {
    const ref = new WeakRef(span);
    this.#refs.add(ref);
    this.#refOf.set(span, ref);
    if (++this.#addedSinceSweep >= SWEEP_EVERY) this.#sweep();
  }

  /** The span ended: its END goes the usual way (the memory queue, or the journal). */
  ended(span: Span): void {
    const ref = this.#refOf.get(span);
    if (ref === undefined) return;
    this.#refs.delete(ref);
    this.#refOf.delete(span);
  }

  /** The spans still open, taken: none is held any more. */
  takeOpen(): Span[] {
    const open: Span[] = [];
    for (const ref of this.#refs) {
      const span = ref.deref();
      if (span === undefined) this.#collected += 1;
      else open.push(span);
    }
    this.#refs.clear();
    return open;
  }

  /**
   * At shutdown with no journal: the spans still open, taken and remembered as counted (the
   * overflow marker stands for them, as a crash record does for a journaled one); how many.
   */
  countOpenAsDropped(): number {
    const open = this.takeOpen();
    for (const span of open) this.#countedAsDropped.add(span);
    return open.length;
  }

  /** Whether `span` was counted as dropped at shutdown: its END is neither exported nor counted again. */
  countedAsDropped(span: object): boolean {
    return this.#countedAsDropped.has(span);
  }

  /** How many spans the application dropped unended since the last call: never ended, they are counted as dropped. */
  takeCollected(): number {
    const collected = this.#collected;
    this.#collected = 0;
    return collected;
  }

  #sweep(): void {
    this.#addedSinceSweep = 0;
    for (const ref of this.#refs) {
      if (ref.deref() !== undefined) continue;
      this.#refs.delete(ref);
      this.#collected += 1;
    }
  }
}
