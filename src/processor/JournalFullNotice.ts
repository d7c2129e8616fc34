// Says through diag when the journal reaches maxJournalBytes, and when it has had room again
// for a while. While it is at its cap, spans that start are not journaled: a crash leaves no
// crash record of them, and their ENDs are exported from the memory queue. Until this was
// said, the first word of it came only when the memory queue overflowed too, and a cap too
// small to hold anything turned crash protection off with no word at all (a review's
// finding).
//
// One pair of lines per overload, not per segment: under sustained load every segment the
// exporter frees lets a few STARTs in before the journal is at its cap again. So the end is
// said only once no START has been refused for QUIET_MILLIS and the journal has room at a
// heartbeat; an episode still open at shutdown is said then.
import { performance } from 'node:perf_hooks';
import { safeDiag } from '../safeDiag.js';

const QUIET_MILLIS = 60_000;

export class JournalFullNotice {
  #active = false;
  #since = 0;
  #lastRefusal = 0;
  #unjournaled = 0;
  readonly #maxJournalBytes: number;
  readonly #maxQueueSize: number;
  readonly #quietMillis: number;

  constructor(maxJournalBytes: number, maxQueueSize: number, quietMillis = QUIET_MILLIS) {
    this.#maxJournalBytes = maxJournalBytes;
    this.#maxQueueSize = maxQueueSize;
    this.#quietMillis = quietMillis;
  }

  /** A START the journal refused for want of room. */
  refused(): void {
    const now = performance.now();
    this.#unjournaled += 1;
    this.#lastRefusal = now;
    if (this.#active) return;
    this.#active = true;
    this.#since = now;
    safeDiag.warn(
      `otel-blackbox: the journal is at maxJournalBytes (${this.#maxJournalBytes} bytes): spans that start now are not journaled, so a crash would leave no crash record of them, ` +
        `and they are exported from memory (maxQueueSize ${this.#maxQueueSize}) until the exporter has committed enough to free a segment. ` +
        'Raise maxJournalBytes (OTEL_BLACKBOX_MAX_JOURNAL_BYTES, in bytes), or find why the exporter falls behind (processor.stats()).',
    );
  }

  /** At each heartbeat, with whether the journal is at its cap now (Journal.atCap). */
  tick(atCap: boolean): void {
    if (!this.#active || atCap || performance.now() - this.#lastRefusal < this.#quietMillis) return;
    this.#end(`has had room for ${Math.round(this.#quietMillis / 1000)} s`);
  }

  /** At shutdown: an episode still open is said now, with its count. */
  close(): void {
    if (this.#active) this.#end('is shutting down');
  }

  #end(now: string): void {
    const seconds = ((this.#lastRefusal - this.#since) / 1000).toFixed(1);
    safeDiag.warn(
      `otel-blackbox: the journal ${now}; it was at maxJournalBytes for ${seconds} s from its first refused START to its last, ` +
        `and ${this.#unjournaled} spans started without a START in the journal.`,
    );
    this.#active = false;
    this.#unjournaled = 0;
  }
}
