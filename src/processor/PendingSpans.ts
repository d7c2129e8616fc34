// Spans open longer than pendingSpanMillis, handed to the export loop once each as their
// 'started' row (what they have so far), so long jobs are visible while they run; the
// span's END or crash record replaces that row later by precedence. Scanned from the
// journal's open spans, oldest first, stopping at the first one too young: the
// scan costs the application nothing and the export loop little.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { asStarted } from '../export/exportWithLogs.js';
import type { Journal } from '../journal/Journal.js';

export class PendingSpans {
  readonly #pendingSpanMillis: number;
  /** Spans already sent as 'started', while they stay open. */
  readonly #sent = new Set<ReadableSpan>();
  #journal: Journal | undefined;

  /** 0: never. */
  constructor(pendingSpanMillis: number) {
    this.#pendingSpanMillis = pendingSpanMillis;
  }

  take(journal: Journal | undefined, max: number): ReadableSpan[] {
    if (this.#pendingSpanMillis === 0 || journal === undefined || journal.broken) return [];
    if (journal !== this.#journal) {
      this.#journal = journal;
      this.#sent.clear();
    }
    for (const span of this.#sent) {
      const { traceId, spanId } = span.spanContext();
      if (journal.openSpan(traceId, spanId) !== span) this.#sent.delete(span);
    }
    const cutoffMs = Date.now() - this.#pendingSpanMillis;
    const spans: ReadableSpan[] = [];
    for (const span of journal.openSpans()) {
      if (spans.length >= max) break;
      if (this.#sent.has(span)) continue;
      const [seconds, nanos] = span.startTime;
      if (seconds * 1000 + nanos / 1e6 > cutoffMs) break;
      spans.push(asStarted(span));
      this.#sent.add(span);
    }
    return spans;
  }
}
