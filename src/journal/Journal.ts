// This process's journal, as the processor sees it: records go in (appendStart, appendEnd,
// appendLog, heartbeats, the exit), batches of ended spans and log records come out
// (nextBatch), and a batch the exporter committed is marked so (committed). Behind it the
// write side (JournalWriter) and the export side (JournalTail) share one directory of
// segments; nothing outside src/journal/ touches either.
import type { ReadableLogRecord } from '../logRecordTypes.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { JournalTail } from './JournalTail.js';
import type { JournalBatch } from './JournalTail.js';
import { JournalWriter } from './JournalWriter.js';
import type { AppendResult, JournalWriterOptions, OpenSpanNow } from './JournalWriter.js';
import type { ProcessExitRecord } from './recordTypes.js';
import type { SegmentFileKind } from './segmentFile/openSegmentFile.js';

export type { AppendResult, JournalBatch, JournalWriterOptions, OpenSpanNow };

export class Journal {
  readonly #writer: JournalWriter;
  readonly #tail: JournalTail;

  /** Creates the writer's directory and first segment; throws if the directory is unusable. */
  constructor(options: JournalWriterOptions) {
    this.#writer = new JournalWriter(options);
    this.#tail = new JournalTail(this.#writer);
  }

  // The application's side: each returns once the record is in the journal (or says why not).

  appendStart(span: ReadableSpan): AppendResult {
    return this.#writer.appendStart(span);
  }

  /** `pastCap`: the overflow marker at shutdown may pass maxJournalBytes (see JournalWriter.appendEnd). */
  appendEnd(span: ReadableSpan, options?: { pastCap?: boolean }): AppendResult {
    return this.#writer.appendEnd(span, options);
  }

  /** Whether the START of `span`, open here, is in the journal (JournalWriter.holdsStartOf). */
  holdsStartOf(span: ReadableSpan): boolean {
    return this.#writer.holdsStartOf(span);
  }

  /** The caller's copy of a span appendEnd() could not write was exported or dropped (JournalWriter.endedElsewhere). */
  endedElsewhere(span: ReadableSpan): void {
    this.#writer.endedElsewhere(span);
  }

  appendLog(logRecord: ReadableLogRecord): AppendResult {
    return this.#writer.appendLog(logRecord);
  }

  appendHeartbeat(): void {
    this.#writer.appendHeartbeat();
  }

  appendProcessExit(record: ProcessExitRecord, options?: { syncLater?: boolean }): void {
    this.#writer.appendProcessExit(record, options);
  }

  /** At the process's 'exit': the room preallocated ahead of the records goes back to the disk (JournalWriter.releaseRoomAtExit). */
  releaseRoomAtExit(): void {
    this.#writer.releaseRoomAtExit();
  }

  // The export side.

  /** Up to `maxRecords` ENDs and LOGs, in journal order, or undefined when none wait. */
  nextBatch(maxRecords: number): JournalBatch | undefined {
    return this.#tail.nextBatch(maxRecords);
  }

  /** The exporter committed `batch` (and every batch before it). */
  committed(batch: JournalBatch): void {
    this.#tail.committed(batch);
  }

  /** ENDs and LOGs written but not yet handed out. */
  get backlog(): number {
    return this.#tail.backlog;
  }

  /** ENDs and LOGs written and not yet committed (nor known lost): those in batches being exported or retried too. */
  get uncommitted(): number {
    return this.#writer.exportRecordsWritten - this.#tail.settled;
  }

  /** ENDs and LOGs written so far: a flush waits until `settled` reaches this. */
  get recordsWritten(): number {
    return this.#writer.exportRecordsWritten;
  }

  /** ENDs and LOGs committed, or known lost. */
  get settled(): number {
    return this.#tail.settled;
  }

  /**
   * The oldest open span not read yet by the one reader of open spans in start order (the
   * pending-span scan), or undefined; readOpenSpan() marks it read. A span that ends is
   * forgotten; one that starts is read after every older one.
   */
  nextUnreadOpenSpan(): ReadableSpan | undefined {
    return this.#writer.nextUnreadOpenSpan();
  }

  readOpenSpan(): void {
    this.#writer.readOpenSpan();
  }

  /** A span still open, by its trace id and span id (a span id is unique within its trace only). */
  openSpan(traceId: string, spanId: string): ReadableSpan | undefined {
    return this.#writer.openSpan(traceId, spanId);
  }

  get openSpanCount(): number {
    return this.#writer.openSpanCount;
  }

  /** The spans open now, oldest first, and whether the journal holds their STARTs. */
  openSpansNow(): OpenSpanNow[] {
    return this.#writer.openSpansNow();
  }

  /**
   * At shutdown: spans the application dropped without ending them whose collection has
   * not been reported yet get their crash records now, a bounded number per turn
   * (JournalWriterOptions.onAbandoned); resolves once they have.
   */
  reportCollectedSpans(): Promise<void> {
    return this.#writer.reportCollectedSpans();
  }

  /** Whose journal this is: the id its crash records name (ATTR_WRITER_ID). */
  get writerId(): string {
    return this.#writer.writerId;
  }

  // Health.

  get broken(): boolean {
    return this.#writer.broken;
  }

  /** Not broken, and under 'host' synced since its last repair (JournalWriter.healthy). */
  get healthy(): boolean {
    return this.#writer.healthy;
  }

  /** At maxJournalBytes: spans that start now are not journaled (JournalWriter.atCap). */
  get atCap(): boolean {
    return this.#writer.atCap;
  }

  get writePath(): SegmentFileKind {
    return this.#writer.writePath;
  }

  get directory(): string {
    return this.#writer.writerDir;
  }

  /** Bytes the journal takes on disk: its records, and the room preallocated for more (mapped segments). */
  get bytesOnDisk(): number {
    return this.#writer.bytesOnDisk;
  }

  get segmentsOnDisk(): number {
    return this.#writer.segmentsOnDisk;
  }

  /** Every byte written into segments (records, heads, carried-forward STARTs). */
  get bytesWritten(): number {
    return this.#writer.bytesWritten;
  }

  /** Every second or so: notices a deleted segment, repairs a broken journal. */
  maintain(): void {
    this.#writer.maintain();
  }

  /** Under 'host', resolves true once what was written so far is on disk (synced on the thread pool), false if that could not be waited for. */
  whenSynced(): Promise<boolean> {
    return this.#writer.whenSynced();
  }

  /** Whether close() would remove the journal now: everything settled, no span open. */
  get removedAtClose(): boolean {
    return this.#tail.settled >= this.#writer.exportRecordsWritten && this.#writer.openSpanCount === 0;
  }

  /**
   * Closes the journal; removes it when nothing in it is needed any more (everything
   * settled, no span open). Under 'host', `syncHere: false` leaves what is not yet synced
   * to the thread pool (JournalWriter.close).
   */
  close(options: { syncHere?: boolean } = {}): void {
    this.#writer.close({ removeIfDone: this.#tail.settled >= this.#writer.exportRecordsWritten, syncHere: options.syncHere });
  }
}
