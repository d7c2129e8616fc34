// Ended spans that could not be journaled (durability 'none', a broken or full journal)
// wait here. Bounded: past maxQueueSize a span is refused and the caller counts it. What is
// still here at shutdown, with what a batch given up at the stop deadline held, is handed
// over whole (drain): journaled past the cap, or counted as dropped.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export class MemorySpanQueue {
  private spans: ReadableSpan[] = [];
  private givenBack: ReadableSpan[] = [];
  private readonly capacity: number;
  /** Spans ever accepted, and how many of those are committed or given up: flush targets. */
  accepted = 0;
  settled = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get length(): number {
    return this.spans.length;
  }

  offer(span: ReadableSpan): boolean {
    if (this.spans.length >= this.capacity) return false;
    this.spans.push(span);
    this.accepted += 1;
    return true;
  }

  take(max: number): ReadableSpan[] {
    if (this.spans.length <= max) {
      const all = this.spans;
      this.spans = [];
      return all;
    }
    return this.spans.splice(0, max);
  }

  settle(count: number): void {
    this.settled += count;
  }

  /** Spans of a batch given up at the stop deadline: not known to be exported, kept for drain(). */
  giveBack(spans: readonly ReadableSpan[]): void {
    for (const span of spans) this.givenBack.push(span);
  }

  /** At shutdown: every span still held, those given back (their export had not finished) apart from those queued. */
  drain(): { givenBack: ReadableSpan[]; queued: ReadableSpan[] } {
    const held = { givenBack: this.givenBack, queued: this.spans };
    this.givenBack = [];
    this.spans = [];
    return held;
  }
}
