// The export side of a live journal: hands out this process's own SPAN_END records in
// order, batch by batch, and after the exporter commits a batch writes the COMMIT
// watermark and deletes the segments left behind. The backlog waits on disk, not in
// memory: while the tail keeps up it takes the span objects the writer just wrote (see
// RecentEnds), and when it has fallen behind it reads them back from the segments.
import { safeDiag } from '../safeDiag.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { readableLogFromRecord } from './logRecords.js';
import { segmentPath } from './journalPaths.js';
import type { JournalPosition } from './JournalPosition.js';
import type { JournalWriter } from './JournalWriter.js';
import { DEFAULT_CHUNK_BYTES, readSegmentChunkSync } from './SegmentFileReader.js';
import type { JournalRecord } from './readSegment.js';
import { RecordType } from './recordTypes.js';
import type { LogRecordPayload } from './recordTypes.js';
import { JournalBatch, MAX_BATCH_CHARS, type JournalLog } from './JournalBatch.js';
import { PayloadBuffers, SpanPayloads, SpanPayloadsBuilder, type SpanFromRecord } from './SpanPayloads.js';
import { readableSpanFromRecord } from './readableSpanFromRecord.js';
import type { RecentEnd } from './RecentEnds.js';

// Only ENDs and LOGs are wanted: resources are the writer's own objects (resourceById), in
// this process. Nothing is parsed as it is read: an END's bytes are copied into its batch
// (SpanPayloads), a LOG is parsed when it is handed out; so the bytes read are not needed
// past the next read, and one read buffer serves every chunk.
const wanted = (type: number): boolean => type === RecordType.SpanEnd || type === RecordType.LogRecord;
const parseNone = (): boolean => false;

export { JournalBatch, type JournalLog };

/** What makes a segment's path no segment for good (regularFile.ts gives ENOTREG). */
const NOT_A_SEGMENT = new Set(['ENOTREG', 'EISDIR', 'ELOOP', 'ENOTDIR']);
/** How often a segment that cannot be read back is said again while it stays so. */
const UNREADABLE_SAID_EVERY_MILLIS = 60_000;

export class JournalTail {
  private readonly writer: JournalWriter;
  private position: JournalPosition = { segment: 1, offset: 0 };
  /** Records (unparsed) read past the end of the last batch, consumed first next time. */
  private pending: JournalRecord[] = [];
  /** SPAN_END records handed out in batches, and how many of those are committed. */
  endsRead = 0;
  endsCommitted = 0;
  /** LOG records handed out in batches, and how many of those are committed. */
  logsRead = 0;
  logsCommitted = 0;
  /** SPAN_END and LOG records written but never read: damaged, or deleted with their directory. */
  recordsLost = 0;
  /** SPAN_END and LOG records handed out, by the segment they were read from. */
  private readonly readIn = new Map<number, number>();
  /** Every chunk is read into this (the records in `pending` point into it until the next read). */
  private readonly readBuffer = Buffer.allocUnsafe(DEFAULT_CHUNK_BYTES);
  private readonly payloadBuffers = new PayloadBuffers();
  private readonly spanOfRecord: SpanFromRecord = (record) => readableSpanFromRecord(record, this.writer.resourceById(record.r));

  constructor(writer: JournalWriter) {
    this.writer = writer;
    writer.readBy(() => this.position);
  }

  /** SPAN_END and LOG records written but not yet handed out. */
  get backlog(): number {
    return this.writer.exportRecordsWritten - this.endsRead - this.logsRead - this.recordsLost;
  }

  /**
   * ENDs and LOGs committed, or known lost: what a flush waits for. Counting only committed
   * ones made every forceFlush wait out its timeout after one damaged record, and kept the
   * journal from being removed at shutdown.
   */
  get settled(): number {
    return this.endsCommitted + this.logsCommitted + this.recordsLost;
  }

  /** Up to `maxRecords` ENDs and LOGs, in journal order, of MAX_BATCH_CHARS at most (one record at least). */
  nextBatch(maxRecords: number): JournalBatch | undefined {
    if (this.pending.length === 0) {
      const recent = this.writer.takeRecentAfter(this.position, maxRecords, MAX_BATCH_CHARS);
      if (recent !== undefined) {
        for (const entry of recent) if (entry.span || entry.log) this.countRead(entry.segment);
        const batch = this.handOut(recent);
        this.settlePassedSegments();
        return batch;
      }
    }
    const ends = new SpanPayloadsBuilder(this.payloadBuffers);
    const logs: JournalLog[] = [];
    let until = this.position;
    // Bytes, not characters, on this side: the same bound for ASCII JSON, a tighter one otherwise.
    let bytes = 0;
    while (ends.count + logs.length < maxRecords && bytes < MAX_BATCH_CHARS) {
      const record = this.pending.shift() ?? this.readMore();
      if (!record) break;
      until = { segment: this.position.segment, offset: record.end };
      bytes += record.bytes.length;
      if (record.type === RecordType.SpanEnd) {
        ends.add(record.bytes);
        this.countRead(this.position.segment);
        continue;
      }
      const log = this.parseLog(record.bytes);
      // Not counted as read: settlePassedSegments counts it lost, as any damaged record.
      if (log === undefined) continue;
      logs.push(log);
      this.countRead(this.position.segment);
    }
    this.settlePassedSegments();
    return this.batch(ends.build(this.spanOfRecord), logs, until);
  }

  private parseLog(bytes: Buffer): JournalLog | undefined {
    try {
      const payload = JSON.parse(bytes.toString('utf8')) as LogRecordPayload;
      return { logRecord: readableLogFromRecord(payload, this.writer.resourceById(payload.r)), writerId: this.writer.writerId, sequence: payload.q };
    } catch {
      safeDiag.warn('otel-blackbox: skipped a journal log record that could not be parsed (its checksum held)');
      return undefined;
    }
  }

  private countRead(segment: number): void {
    this.readIn.set(segment, (this.readIn.get(segment) ?? 0) + 1);
  }

  /** Once past a segment, ENDs and LOGs written into it and never read are counted lost, and said so. */
  private settlePassedSegments(): void {
    for (const segment of [...this.writer.segmentsWithExports()]) {
      if (segment >= this.position.segment) continue;
      const lost = this.writer.takeExportsWrittenIn(segment) - (this.readIn.get(segment) ?? 0);
      this.readIn.delete(segment);
      if (lost <= 0) continue;
      this.recordsLost += lost;
      safeDiag.error(`otel-blackbox: ${lost} ended spans or log records in journal segment ${segment} could not be read back (damaged or deleted); they are lost`);
    }
  }

  private handOut(recent: RecentEnd[]): JournalBatch | undefined {
    const last = recent.at(-1);
    if (!last) return undefined;
    this.position = { segment: last.segment, offset: last.end };
    const spans: ReadableSpan[] = [];
    const logs: JournalLog[] = [];
    for (const entry of recent) {
      if (entry.span) spans.push(entry.span);
      else if (entry.log) logs.push({ logRecord: entry.log.logRecord, writerId: this.writer.writerId, sequence: entry.log.sequence });
    }
    return this.batch(spans, logs, this.position);
  }

  private batch(ends: ReadableSpan[] | SpanPayloads, logs: JournalLog[], until: JournalPosition): JournalBatch | undefined {
    const batch = new JournalBatch(ends, logs, this.openSpansOf(logs), until);
    if (batch.spanCount + logs.length === 0) return undefined;
    this.endsRead += batch.spanCount;
    this.logsRead += logs.length;
    return batch;
  }

  /**
   * The spans of `logs` not ended yet (the application's live objects), once each. A span
   * whose END the batch carries is not among them: the writer lets go of a span before it
   * writes its END.
   */
  private openSpansOf(logs: JournalLog[]): ReadableSpan[] {
    const open = new Set<ReadableSpan>();
    for (const { logRecord } of logs) {
      const context = logRecord.spanContext;
      if (context === undefined) continue;
      const span = this.writer.openSpan(context.traceId, context.spanId);
      if (span !== undefined) open.add(span);
    }
    return [...open];
  }

  /** The exporter committed everything up to `until`. */
  committed(batch: JournalBatch): void {
    // Records that did not parse were not exported: lost, not committed (nor read, so the
    // backlog does not count them twice).
    this.endsCommitted += batch.spanCount - batch.unreadable;
    this.endsRead -= batch.unreadable;
    this.recordsLost += batch.unreadable;
    this.logsCommitted += batch.logCount;
    this.writer.appendCommit(batch.until);
    this.writer.deleteSegmentsBefore(batch.until.segment);
    batch.release();
  }


  /** Reads on from the current position, moving to the next segment at the end of a closed one. */
  private readMore(): JournalRecord | undefined {
    for (;;) {
      const from = this.position.offset;
      // A memory-mapped segment is preallocated: past the writer's position in the live one,
      // and past the records of a closed one until it is cut, lie only zeros.
      const live = this.writer.position();
      const end = this.position.segment === live.segment ? live.offset : this.writer.closedSegmentEnd(this.position.segment);
      let chunk: ReturnType<typeof readSegmentChunkSync>;
      try {
        chunk = readSegmentChunkSync(segmentPath(this.writer.writerDir, this.position.segment), { from, parse: parseNone, end, into: this.readBuffer });
      } catch (error) {
        // Something other than a segment under its name (a directory, a FIFO, a symlink
        // loop) never becomes one: damage, its records counted lost (settlePassedSegments
        // says so) and the tail goes on.
        if (NOT_A_SEGMENT.has((error as NodeJS.ErrnoException).code ?? '') && this.advanceSegment()) continue;
        // Not readable now (EMFILE, ENFILE, EIO): waited for, tried again at the next batch,
        // said once a minute. Skipped, its records would have been counted lost and the next
        // commit would have deleted the intact file.
        this.unreadableNow(error);
        return undefined;
      }
      if (chunk === undefined) {
        // Deleted (committed) or never created: nothing of it is still wanted.
        if (this.advanceSegment()) continue;
        return undefined;
      }
      for (const range of chunk.damaged) {
        safeDiag.warn(`otel-blackbox: skipped ${range.length} damaged journal bytes (${range.reason}) at ${range.offset}`);
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

  private unreadableSaidAt = Number.NEGATIVE_INFINITY;

  private unreadableNow(error: unknown): void {
    const now = Date.now();
    if (now - this.unreadableSaidAt < UNREADABLE_SAID_EVERY_MILLIS) return;
    this.unreadableSaidAt = now;
    safeDiag.error(
      `otel-blackbox: journal segment ${this.position.segment} cannot be read back now (${(error as Error)?.message ?? String(error)}); ` +
        'its records wait in the journal and are tried again',
    );
  }

  /**
   * Moves to the next segment once the current one is closed; false while it is still live,
   * or removed and its records are still being copied forward (JournalWriter.isRescuing):
   * passed, those not copied yet would be counted lost.
   */
  private advanceSegment(): boolean {
    if (this.position.segment >= this.writer.currentSegment || this.writer.isRescuing(this.position.segment)) return false;
    this.position = { segment: this.position.segment + 1, offset: 0 };
    return true;
  }
}
