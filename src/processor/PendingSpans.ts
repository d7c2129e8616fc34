// Spans open longer than pendingSpanMillis, handed to the export loop once each as their
// 'started' row (what they had at start), so long jobs are visible while they run; the
// span's END or crash record replaces that row later by precedence. Scanned from the
// journal writer's open STARTs, oldest first, stopping at the first one too young: the
// scan costs the application nothing and the export loop little.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { asStarted } from '../export/exportWithLogs.js';
import type { JournalWriter } from '../journal/JournalWriter.js';
import { readableSpanFromRecord } from '../journal/readableSpanFromRecord.js';
import type { SpanStartRecord } from '../journal/recordTypes.js';

// The first "st" key of a START payload is its start time: the name before it is a JSON
// string, in which a quote is always escaped.
const START_TIME = /"st":\[(\d+),(\d+)\]/;

export class PendingSpans {
  readonly #pendingSpanMillis: number;
  /** Span ids already sent as 'started', while they stay open. */
  readonly #sent = new Set<string>();
  #writer: JournalWriter | undefined;

  /** 0: never. */
  constructor(pendingSpanMillis: number) {
    this.#pendingSpanMillis = pendingSpanMillis;
  }

  take(writer: JournalWriter | undefined, max: number): ReadableSpan[] {
    if (this.#pendingSpanMillis === 0 || writer === undefined || writer.broken) return [];
    if (writer !== this.#writer) {
      this.#writer = writer;
      this.#sent.clear();
    }
    for (const spanId of this.#sent) if (writer.openStartJson(spanId) === undefined) this.#sent.delete(spanId);
    const cutoffMs = Date.now() - this.#pendingSpanMillis;
    const spans: ReadableSpan[] = [];
    for (const [spanId, json] of writer.openStartEntries()) {
      if (spans.length >= max) break;
      if (this.#sent.has(spanId)) continue;
      const time = START_TIME.exec(json);
      if (time === null) continue;
      if (Number(time[1]) * 1000 + Number(time[2]) / 1e6 > cutoffMs) break;
      const start = JSON.parse(json) as SpanStartRecord;
      spans.push(asStarted(readableSpanFromRecord(start, writer.resourceById(start.r))));
      this.#sent.add(spanId);
    }
    return spans;
  }
}
