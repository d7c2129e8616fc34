// A span the application drops without ending it (an end() missing on an error path) never
// reaches onEnd. The journal held every such span, and what it kept for the END, until the
// process exited: memory and journal that only grew, where the stock processor lets the
// span be collected. So a span found open by two looks in a row (the writer looks every
// second) is held weakly from then on (StartText.holdWeakly), with its START's text in its
// place; when the application has dropped it and the collector takes it, the writer is
// told, writes its crash record as the span's END, and lets go of it.
//
// Only spans open a second or more pay for this (a WeakRef, a registration, an END
// encoded afresh): most end long before, and onStart and onEnd stay as they were.
// Collection comes late or never (FinalizationRegistry promises nothing): a dropped span
// collected and not yet reported at shutdown gets its crash record there (reportCollected),
// and one not collected by then gets shutdown's, as before.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { OpenSpanTable } from './OpenSpanTable.js';
import type { StartText } from './spanRecordJson.js';

/** Spans made weakly held in one turn of the event loop: each costs its START encoded afresh, a WeakRef and a registration (~5 µs with six attributes); the rest wait for the next turn. */
export const OPEN_SPANS_WEAKENED_PER_TURN = 500;
/**
 * Collected spans reported in one turn: each report makes and writes a crash record
 * (~15 µs in bench/dropped-spans.mjs). V8 runs every finalization callback a collection
 * found in one task: 40,000 spans dropped between two collections, reported there,
 * stalled the application 311 ms.
 */
export const COLLECTED_SPANS_REPORTED_PER_TURN = 250;

export class LongOpenSpans {
  readonly #registry: FinalizationRegistry<StartText>;
  readonly #collected: (start: StartText) => void;
  /** Collected, not reported yet: the finalization callbacks only queue them. */
  #queue: StartText[] = [];
  #draining: NodeJS.Immediate | undefined;
  #closed = false;
  /** Looks taken so far; an entry remembers the first that found it (StartText.firstSeenAtLook). */
  #looks = 0;

  /** `collected`: a span held weakly was collected while open; called from a turn of its own, never inside the writer's calls. */
  constructor(collected: (start: StartText) => void) {
    this.#collected = collected;
    this.#registry = new FinalizationRegistry((start) => {
      if (this.#closed) return;
      this.#queue.push(start);
      this.#draining ??= setImmediate(() => this.#drain());
    });
  }

  #drain(): void {
    this.#draining = undefined;
    this.#reportSome();
    if (this.#queue.length > 0) this.#draining = setImmediate(() => this.#drain());
  }

  /** Reports up to COLLECTED_SPANS_REPORTED_PER_TURN of the queue. */
  #reportSome(): void {
    const batch = this.#queue.length <= COLLECTED_SPANS_REPORTED_PER_TURN ? this.#queue : this.#queue.slice(0, COLLECTED_SPANS_REPORTED_PER_TURN);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(COLLECTED_SPANS_REPORTED_PER_TURN);
    for (const start of batch) this.#collected(start);
  }

  /**
   * At shutdown: the spans collected and not reported yet (their finalization callbacks may
   * come late, or never) join the queue, and it is reported a bounded number per turn;
   * resolves once it is empty. An entry queued twice is reported once (the writer checks).
   */
  async reportCollected(table: OpenSpanTable<StartText>): Promise<void> {
    table.forEachMark((start) => {
      if (start.heldWeakly && !start.abandoned && start.span === undefined) this.#queue.push(start);
    });
    while (this.#queue.length > 0 && !this.#closed) {
      this.#reportSome();
      if (this.#queue.length > 0) await nextTurn();
    }
  }

  /** No more reports: the writer is closed. Callbacks that come later are ignored. */
  close(): void {
    this.#closed = true;
    clearImmediate(this.#draining);
    this.#draining = undefined;
    this.#queue = [];
  }

  /**
   * Marks the spans open now as seen, and makes those an earlier look had seen weakly held,
   * up to OPEN_SPANS_WEAKENED_PER_TURN; true when some are left for another turn.
   * `fresh`: a new look (the writer's every second); false continues the last one.
   * `startJson`: the START the writer would write for the span now.
   */
  look(table: OpenSpanTable<StartText>, startJson: (start: StartText) => string, fresh: boolean): boolean {
    if (fresh || this.#looks === 0) this.#looks += 1;
    const look = this.#looks;
    let budget = OPEN_SPANS_WEAKENED_PER_TURN;
    let left = false;
    table.forEachMark((start) => {
      if (start.firstSeenAtLook === 0) start.firstSeenAtLook = look;
      // Not one that ended while the journal was broken: kept for its START until the copy in memory is exported.
      if (start.firstSeenAtLook === look || start.heldWeakly || start.span!.ended === true) return;
      if (budget === 0) {
        left = true;
        return;
      }
      budget -= 1;
      const span = start.holdWeakly(startJson(start));
      // The StartText is held by the registry as well as by the table: whichever of the span's
      // end or its collection comes first finds it.
      this.#registry.register(span, start, start);
    });
    return left;
  }

  /** The span ended (or its crash record was written): its collection is nothing to report. */
  forget(start: StartText): void {
    if (start.heldWeakly) this.#registry.unregister(start);
  }
}
