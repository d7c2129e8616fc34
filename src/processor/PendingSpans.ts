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
  /** Span ids already sent as 'started', while they stay open. */
  readonly #sent = new Set<string>();
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
    for (const spanId of this.#sent) if (journal.openSpan(spanId) === undefined) this.#sent.delete(spanId);
    const cutoffMs = Date.now() - this.#pendingSpanMillis;
    const spans: ReadableSpan[] = [];
    for (const [spanId, span] of journal.openSpanEntries()) {
      if (spans.length >= max) break;
      if (this.#sent.has(spanId)) continue;
      const [seconds, nanos] = span.startTime;
      if (seconds * 1000 + nanos / 1e6 > cutoffMs) break;
      spans.push(asStarted(span));
      this.#sent.add(spanId);
    }
    return spans;
  }
}
