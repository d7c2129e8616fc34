// The export side of a live journal: hands out this process's own SPAN_END records in
// order, batch by batch, and after the exporter commits a batch writes the COMMIT
// watermark and deletes the segments left behind. The backlog waits on disk, not in
// memory: while the tail keeps up it takes the span objects the writer just wrote (see
// RecentEnds), and when it has fallen behind it reads them back from the segments.
import { diag } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { segmentPath } from './journalPaths.js';
import type { JournalPosition } from './JournalPosition.js';
import type { JournalWriter } from './JournalWriter.js';
import { readableSpanFromRecord } from './readableSpanFromRecord.js';
import { readSegmentChunkSync } from './SegmentFileReader.js';
import type { JournalRecord } from './readSegment.js';
import { RecordType } from './recordTypes.js';
import type { SpanEndRecord } from './recordTypes.js';
import type { RecentEnd } from './RecentEnds.js';

// Only ENDs are parsed: resources are the writer's own objects (resourceById), in this process.
const wanted = (type: number): boolean => type === RecordType.SpanEnd;

export interface JournalBatch {
  spans: ReadableSpan[];
  /** Where reading stopped: committing the batch moves the watermark here. */
  until: JournalPosition;
}

export class JournalTail {
  private readonly writer: JournalWriter;
  private position: JournalPosition = { segment: 1, offset: 0 };
  /** Parsed records read past the end of the last batch, consumed first next time. */
  private pending: JournalRecord[] = [];
  /** SPAN_END records handed out in batches, and how many of those are committed. */
  endsRead = 0;
  endsCommitted = 0;

  constructor(writer: JournalWriter) {
    this.writer = writer;
  }

  /** SPAN_END records written but not yet handed out. */
  get backlog(): number {
    return this.writer.endsWritten - this.endsRead;
  }

  nextBatch(maxSpans: number): JournalBatch | undefined {
    if (this.pending.length === 0) {
      const recent = this.writer.recentEnds.takeAfter(this.position, maxSpans);
      if (recent !== undefined) return this.handOut(recent.map((entry) => entry.span), recent.at(-1));
    }
    const spans: ReadableSpan[] = [];
    let until = this.position;
    while (spans.length < maxSpans) {
      const record = this.pending.shift() ?? this.readMore();
      if (!record) break;
      until = { segment: this.position.segment, offset: record.end };
      const end = record.payload as SpanEndRecord;
      spans.push(readableSpanFromRecord(end, this.writer.resourceById(end.r)));
    }
    if (spans.length === 0) return undefined;
    this.endsRead += spans.length;
    return { spans, until };
  }

  private handOut(spans: ReadableSpan[], last: RecentEnd | undefined): JournalBatch | undefined {
    if (!last) return undefined;
    this.position = { segment: last.segment, offset: last.end };
    this.endsRead += spans.length;
    return { spans, until: this.position };
  }

  /** The exporter committed everything up to `until`. */
  committed(batch: JournalBatch): void {
    this.endsCommitted += batch.spans.length;
    this.writer.appendCommit(batch.until);
    this.writer.deleteSegmentsBefore(batch.until.segment);
  }


  /** Reads on from the current position, moving to the next segment at the end of a closed one. */
  private readMore(): JournalRecord | undefined {
    for (;;) {
      const from = this.position.offset;
      const chunk = readSegmentChunkSync(segmentPath(this.writer.writerDir, this.position.segment), { from, parse: wanted });
      if (chunk === undefined) {
        // Deleted (committed) or never created: nothing of it is still wanted.
        if (this.advanceSegment()) continue;
        return undefined;
      }
      for (const range of chunk.damaged) {
        diag.warn(`otel-blackbox: skipped ${range.length} damaged journal bytes (${range.reason}) at ${range.offset}`);
      }
      this.position = { segment: this.position.segment, offset: chunk.nextOffset };
      const useful = chunk.records.filter((record) => wanted(record.type));
      if (useful.length > 0) {
        this.pending = useful;
        return this.pending.shift();
      }
      if (chunk.nextOffset > from) continue;
      if (!this.advanceSegment()) return undefined;
    }
  }

  /** Moves to the next segment once the current one is closed; false while it is still live. */
  private advanceSegment(): boolean {
    if (this.position.segment >= this.writer.currentSegment) return false;
    this.position = { segment: this.position.segment + 1, offset: 0 };
    return true;
  }
}
