// Says through diag when the journal reaches maxJournalBytes, once per episode, and when it
// has room again. While it is full, spans that start are not journaled: a crash leaves no
// crash record of them, and their ENDs wait in the memory queue. Until this was said, the
// first word of it came only when the memory queue overflowed too, and a cap too small to
// hold anything turned crash protection off with no word at all (a review's finding).
import { performance } from 'node:perf_hooks';
import { safeDiag } from '../safeDiag.js';
import type { AppendResult } from '../journal/Journal.js';

export class JournalFullNotice {
  /** True while the journal refuses STARTs for want of room: the hot path checks it before calling note(). */
  active = false;
  private since = 0;
  private unjournaled = 0;
  private readonly maxJournalBytes: number;
  private readonly maxQueueSize: number;

  constructor(maxJournalBytes: number, maxQueueSize: number) {
    this.maxJournalBytes = maxJournalBytes;
    this.maxQueueSize = maxQueueSize;
  }

  /** What appending a START gave, when it was not written or an episode is under way. */
  note(result: AppendResult): void {
    if (result === 'full') this.refused();
    else if (result === 'written' && this.active) this.roomAgain();
  }

  private refused(): void {
    this.unjournaled += 1;
    if (this.active) return;
    this.active = true;
    this.since = performance.now();
    safeDiag.warn(
      `otel-blackbox: the journal is at maxJournalBytes (${this.maxJournalBytes} bytes): spans that start now are not journaled, so a crash would leave no crash record of them, ` +
        `and their ENDs wait in the memory queue (maxQueueSize ${this.maxQueueSize}) until the exporter has committed enough to free a segment. ` +
        'Raise maxJournalBytes (OTEL_BLACKBOX_MAX_JOURNAL_BYTES, in bytes), or find why the exporter falls behind (processor.stats()).',
    );
  }

  private roomAgain(): void {
    const seconds = ((performance.now() - this.since) / 1000).toFixed(1);
    safeDiag.warn(`otel-blackbox: the journal has room again after ${seconds} s at maxJournalBytes; ${this.unjournaled} spans started meanwhile without a START in the journal.`);
    this.active = false;
    this.unjournaled = 0;
  }
}
