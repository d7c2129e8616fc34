// Spans open longer than pendingSpanMillis, handed to the export loop once each as their
// 'started' row (what they have so far), so long jobs are visible while they run; the
// span's END or crash record replaces that row later by precedence. Read from the
// journal's open spans, oldest first, from where the last pass stopped (the journal keeps
// the place), up to the first one too young: a pass costs the spans it hands over. Before,
// each pass went through every span sent and still open: with 100,000 spans open it held
// the event loop ~116 ms at every pass, idle or not.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { asStarted } from '../export/exportWithLogs.js';
import type { Journal } from '../journal/Journal.js';

/**
 * A start time this far past the wall clock means the clock was stepped back since the
 * span started (the SDK dates spans by Date.now()): its age cannot be told, and it is due.
 * Taken for too young, it held back every span after it for as long as the step.
 */
const CLOCK_STEP_MILLIS = 1000;

export class PendingSpans {
  readonly #pendingSpanMillis: number;

  /** 0: never. */
  constructor(pendingSpanMillis: number) {
    this.#pendingSpanMillis = pendingSpanMillis;
  }

  take(journal: Journal | undefined, max: number): ReadableSpan[] {
    if (this.#pendingSpanMillis === 0 || journal === undefined || journal.broken) return [];
    const now = Date.now();
    const cutoffMs = now - this.#pendingSpanMillis;
    const spans: ReadableSpan[] = [];
    for (let span = journal.nextUnreadOpenSpan(); span !== undefined && spans.length < max; span = journal.nextUnreadOpenSpan()) {
      const [seconds, nanos] = span.startTime;
      const startMs = seconds * 1000 + nanos / 1e6;
      if (startMs > cutoffMs && startMs <= now + CLOCK_STEP_MILLIS) break;
      spans.push(asStarted(span));
      journal.readOpenSpan();
    }
    return spans;
  }
}
