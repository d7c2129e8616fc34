// The write side of one writer's journal: a directory of numbered segments, appended to
// synchronously: a START reaches the kernel before appendStart returns, an END before
// appendEnd returns, so a span that ended is on disk as ended whatever kills the process
// next. (Deferring ENDs to the end of the synchronous run saved ~1.5 µs a span but, in the
// crash-torture run, reported 3.4% of spans that had ended as crashed; see the README.)
// Spans still open when a segment rotates are written again at the head of the next one,
// so a segment can be deleted as soon as the exporter has committed past it.
import { diag } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { FRAME_HEADER_BYTES, SEGMENT_MAGIC, encodeFrame } from './frame.js';
import { segmentPath } from './journalPaths.js';
import { isAtOrAfter } from './JournalPosition.js';
import type { JournalPosition } from './JournalPosition.js';
import { logRecordJson } from './logRecords.js';
import { PendingWrites, type HeldLog } from './PendingWrites.js';
import { RecentEnds } from './RecentEnds.js';
import { RecordType } from './recordTypes.js';
import type { CommitRecord, ProcessExitRecord, SegmentHeader } from './recordTypes.js';
import { endRecord, recordJson, resourceRecord, startRecord } from './spanRecords.js';
import { openSegmentFile } from './segmentFile/openSegmentFile.js';
import type { SegmentFile, SegmentFileKind, SegmentFileSystem } from './segmentFile/openSegmentFile.js';
import type { WriterIdentity } from './writerIdentity.js';

export type Durability = 'process' | 'host';

export interface JournalWriterOptions {
  journalDir: string;
  identity: WriterIdentity;
  durability: Durability;
  maxSegmentBytes: number;
  maxJournalBytes: number;
  groupCommitMillis: number;
  heartbeatIntervalMs: number;
  /** How many recently written ENDs to keep as span objects for the export side. Default 4096. */
  recentEndsCapacity?: number;
  /** File operations for the write(2) path; passing one selects that path (tests inject faults). */
  fs?: SegmentFileSystem;
}

export type { JournalPosition };

/** Room past maxSegmentBytes for the write that crosses it: one PendingWrites buffer. */
const PENDING_WRITE_BYTES = 64 * 1024;

export type AppendResult = 'written' | 'full' | 'broken';

export class JournalWriter {
  readonly writerDir: string;
  private readonly options: JournalWriterOptions;
  private appender: SegmentFile | undefined;
  private readonly pending = new PendingWrites();
  /** Recently written ENDs as span objects: the export side takes them without reading back. */
  readonly recentEnds: RecentEnds;
  private segment = 0;
  /** Bytes of the current segment's head (header, resources, carried-forward STARTs). */
  private headBytes = 0;
  /** Bytes of every segment not yet deleted, for the maxJournalBytes cap. */
  private liveBytes = 0;
  private readonly segmentBytes = new Map<number, number>();
  /** START payloads of spans that have not ended, by span id: carried into new segments. */
  private readonly openStarts = new Map<string, string>();
  private readonly resourceIds = new Map<Resource, number>();
  private readonly resources: Resource[] = [];
  private readonly resourceJson: string[] = [];
  private brokenError: unknown;
  /** A broken journal is reported once per episode, not at every repair attempt. */
  private episodeReported = false;
  /** Where the last END written ends, and the highest COMMIT watermark written. */
  /** Where the last END or LOG landed: the records the exporter must commit. */
  private lastExportAt: JournalPosition | undefined;
  private committedAt: JournalPosition | undefined;
  /** SPAN_END records written into each segment: the tail settles what damage made it miss. */
  private readonly exportsBySegment = new Map<number, number>();
  private syncScheduled = false;
  private syncInFlight = false;
  /** SPAN_END records written so far: the export side compares its own count to this. */
  endsWritten = 0;
  /** LOG records written so far; also the next log record's sequence number. */
  logsWritten = 0;

  /** Creates the writer's directory and first segment; throws if the directory is unusable. */
  constructor(options: JournalWriterOptions) {
    this.options = options;
    this.recentEnds = new RecentEnds(options.recentEndsCapacity ?? 4096);
    mkdirSync(options.journalDir, { recursive: true, mode: 0o700 });
    this.writerDir = join(options.journalDir, options.identity.writerId);
    mkdirSync(this.writerDir, { mode: 0o700 });
    // Here a failure throws (the caller decides how to report it); later ones degrade.
    this.segment = 1;
    const head = this.segmentHead();
    this.appender = this.openSegment(head);
    this.startSegment(head);
    if (this.brokenError !== undefined) throw this.brokenError;
  }

  get writerId(): string {
    return this.options.identity.writerId;
  }

  get broken(): boolean {
    return this.brokenError !== undefined;
  }

  /** How the current segment is written: memory-mapped, or write(2). */
  get writePath(): SegmentFileKind {
    return this.appender?.kind ?? 'write';
  }

  get currentSegment(): number {
    return this.segment;
  }

  get openSpanCount(): number {
    return this.openStarts.size;
  }

  get bytesOnDisk(): number {
    return this.liveBytes;
  }

  get segmentsOnDisk(): number {
    return this.segmentBytes.size;
  }

  /** Where the current segment ends: every record appended so far is before it. */
  position(): JournalPosition {
    return { segment: this.segment, offset: this.appender?.bytes ?? 0 };
  }

  appendStart(span: ReadableSpan): AppendResult {
    if (this.brokenError !== undefined) return 'broken';
    const json = recordJson(startRecord(span, this.resourceIdFor(span.resource)));
    if (this.overCap(json.length)) return 'full';
    if (!this.add(RecordType.SpanStart, json) || !this.flush()) return 'broken';
    this.openStarts.set(span.spanContext().spanId, json);
    return 'written';
  }

  /**
   * A span whose START was journaled may pass the cap: its END is what ends the record.
   * `pastCap`: for the overflow marker at shutdown only (JournalSpanProcessor): one small
   * record past maxJournalBytes beats losing the count of what the cap dropped.
   */
  appendEnd(span: ReadableSpan, options?: { pastCap?: boolean }): AppendResult {
    if (this.brokenError !== undefined) return 'broken';
    const spanId = span.spanContext().spanId;
    const json = recordJson(endRecord(span, this.resourceIdFor(span.resource)));
    if (!options?.pastCap && !this.openStarts.has(spanId) && this.overCap(json.length)) return 'full';
    // The span has ended either way: written here, or kept in memory by the caller.
    this.openStarts.delete(spanId);
    if (!this.add(RecordType.SpanEnd, json, span) || !this.flush()) return 'broken';
    this.endsWritten += 1;
    // Counted where the frame landed (set by the write), not where the writer stood before
    // it: a write may rotate first, and the tail settles each segment's ENDs as it passes it.
    this.countExportIn(this.lastExportAt!.segment);
    return 'written';
  }

  /**
   * A LOG record, written before this returns like an END. Its sequence number (with the
   * writer id, the record's key in the database) is taken only once it is written.
   */
  appendLog(logRecord: ReadableLogRecord): AppendResult {
    if (this.brokenError !== undefined) return 'broken';
    const sequence = this.logsWritten;
    const json = logRecordJson(logRecord, sequence, this.resourceIdFor(logRecord.resource));
    if (this.overCap(json.length)) return 'full';
    if (!this.add(RecordType.LogRecord, json, undefined, { logRecord, sequence }) || !this.flush()) return 'broken';
    this.logsWritten += 1;
    this.countExportIn(this.lastExportAt!.segment);
    return 'written';
  }

  /** ENDs and LOGs written: the records the exporter must commit (or the tail count lost). */
  get exportRecordsWritten(): number {
    return this.endsWritten + this.logsWritten;
  }

  /** Spans still open, oldest start first: span id and START payload. */
  openStartEntries(): IterableIterator<[string, string]> {
    return this.openStarts.entries();
  }

  /** The START payload of a span still open in this process, by span id. */
  openStartJson(spanId: string): string | undefined {
    return this.openStarts.get(spanId);
  }

  appendHeartbeat(): void {
    this.appendNow(RecordType.Heartbeat, JSON.stringify({ ms: Date.now() }));
  }

  appendProcessExit(record: ProcessExitRecord): void {
    this.appendNow(RecordType.ProcessExit, recordJson(record));
    if (this.options.durability === 'host') this.syncNow();
  }

  appendCommit(position: JournalPosition): void {
    this.committedAt = position;
    const record: CommitRecord = { ms: Date.now(), segment: position.segment, offset: position.offset };
    this.appendNow(RecordType.Commit, JSON.stringify(record));
  }

  /** Writes the records encoded by this call. False when the journal is broken. */
  private flush(): boolean {
    if (this.pending.empty) return this.brokenError === undefined;
    const { data, ends } = this.pending.take();
    this.makeRoomFor(data.length);
    const segment = this.segment;
    const base = this.appender?.bytes ?? 0;
    if (!this.write(data)) return false;
    for (const { span, log, end } of ends) {
      this.recentEnds.push({ span, log, segment, end: base + end });
      if (span || log) this.lastExportAt = { segment, offset: base + end };
    }
    // Only records written after the head count: with many spans open, the carried-forward
    // STARTs alone can exceed maxSegmentBytes, and counting them would rotate on every write.
    if ((this.appender?.bytes ?? 0) - this.headBytes >= this.options.maxSegmentBytes) this.rotate();
    return true;
  }

  /** Deletes closed segments numbered below `segment`: everything in them is committed. */
  deleteSegmentsBefore(segment: number): void {
    for (const [number, bytes] of this.segmentBytes) {
      if (number >= segment || number === this.segment) continue;
      try {
        unlinkSync(segmentPath(this.writerDir, number));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') continue;
      }
      this.segmentBytes.delete(number);
      this.liveBytes -= bytes;
    }
  }

  private countExportIn(segment: number): void {
    this.exportsBySegment.set(segment, (this.exportsBySegment.get(segment) ?? 0) + 1);
  }

  /** Segments with SPAN_END or LOG records the tail has not settled yet. */
  segmentsWithExports(): IterableIterator<number> {
    return this.exportsBySegment.keys();
  }

  /** SPAN_END and LOG records written into `segment`, forgotten once asked: the tail asks once it has read past it. */
  takeExportsWrittenIn(segment: number): number {
    const ends = this.exportsBySegment.get(segment) ?? 0;
    this.exportsBySegment.delete(segment);
    return ends;
  }

  /**
   * Called every second or so: notices a segment deleted under the writer (its directory
   * removed by a cleanup job: writes into an unlinked file succeed and protect nothing),
   * and repairs a broken journal. Returns whether the journal works.
   */
  maintain(): boolean {
    const current = this.appender;
    if (this.brokenError === undefined && current && !existsSync(current.path)) {
      this.fail(new Error(`segment ${current.path} was deleted`));
    }
    return this.tryRepair();
  }

  /**
   * After a failure: make the directory again if it is gone, free what is no longer needed,
   * and start a fresh segment carrying the spans still open. Quiet until it works again:
   * the failure was reported once, at the start of the episode.
   */
  tryRepair(): boolean {
    if (this.brokenError === undefined) return true;
    const previous = this.brokenError;
    this.appender?.close();
    const closed = this.appender;
    this.appender = undefined;
    // Every END and LOG in the current segment committed: nothing in it is needed any more (the
    // spans still open are carried into the next), so a full disk gets its room back here
    // instead of waiting for 8 MiB of new records that cannot be written.
    if (closed && (this.lastExportAt === undefined || (this.committedAt !== undefined && isAtOrAfter(this.committedAt, this.lastExportAt)))) {
      this.forgetSegment(this.segment, true);
    }
    for (const segment of [...this.segmentBytes.keys()]) {
      if (!existsSync(segmentPath(this.writerDir, segment))) this.forgetSegment(segment, false);
    }
    this.brokenError = undefined;
    try {
      mkdirSync(this.writerDir, { recursive: true, mode: 0o700 });
      this.openNextSegment();
    } catch (error) {
      this.brokenError ??= error;
    }
    if (this.brokenError === undefined) {
      this.episodeReported = false;
      diag.info(`otel-blackbox: journal ${this.writerDir} writable again`);
      return true;
    }
    this.brokenError = previous;
    return false;
  }

  private forgetSegment(segment: number, unlink: boolean): void {
    if (unlink) {
      try {
        unlinkSync(segmentPath(this.writerDir, segment));
      } catch {
        // Gone already: the accounting below is what matters.
      }
    }
    this.liveBytes -= this.segmentBytes.get(segment) ?? 0;
    this.segmentBytes.delete(segment);
  }

  /** Writes what waits, syncs if durability asks for it, closes, and removes the journal if nothing in it is still needed. */
  close(options: { removeIfDone: boolean }): void {
    this.flush();
    if (this.options.durability === 'host') this.syncNow();
    this.appender?.close();
    this.appender = undefined;
    if (options.removeIfDone && this.openStarts.size === 0) {
      rmSync(this.writerDir, { recursive: true, force: true });
      this.segmentBytes.clear();
      this.liveBytes = 0;
    }
  }

  syncNow(): void {
    try {
      this.appender?.syncDataNow();
    } catch (error) {
      this.fail(error);
    }
  }

  private overCap(recordChars: number): boolean {
    return this.liveBytes + FRAME_HEADER_BYTES + recordChars > this.options.maxJournalBytes;
  }

  /** Queues an encoded frame; a frame too large for the buffer is written on its own. */
  private add(type: RecordType, json: string, endedSpan?: ReadableSpan, log?: HeldLog): boolean {
    if (this.pending.add(type, json, endedSpan, log)) return true;
    if (!this.flush()) return false;
    if (this.pending.add(type, json, endedSpan, log)) return true;
    const frame = encodeFrame(type, json);
    this.makeRoomFor(frame.length);
    if (!this.write(frame)) return false;
    if (endedSpan || log) this.lastExportAt = this.position();
    // Written around the recent-ENDs window: readers must go to disk for it.
    if (endedSpan || log) this.recentEnds.forgetBefore(this.position());
    return true;
  }

  private appendNow(type: RecordType, json: string): void {
    if (this.brokenError === undefined && this.add(type, json)) this.flush();
  }

  /** The resource a record's id stands for, as the application's own object. */
  // Every id in this writer's segments was assigned here, so the lookup cannot miss.
  resourceById(id: number): Resource {
    return this.resources[id - 1];
  }

  private resourceIdFor(resource: Resource): number {
    const known = this.resourceIds.get(resource);
    if (known !== undefined) return known;
    const id = this.resourceIds.size + 1;
    this.resourceIds.set(resource, id);
    this.resources.push(resource);
    const json = recordJson(resourceRecord(id, resource));
    this.resourceJson.push(json);
    this.add(RecordType.Resource, json);
    // Until the async attributes settle, the record holds those already known; then the
    // whole resource is journaled again under the same id (readers keep the last one).
    if (resource.asyncAttributesPending) void resource.waitForAsyncAttributes?.().then(() => this.resourceSettled(id, resource), () => {});
    return id;
  }

  private resourceSettled(id: number, resource: Resource): void {
    const json = recordJson(resourceRecord(id, resource));
    this.resourceJson[id - 1] = json;
    this.appendNow(RecordType.Resource, json);
  }

  private header(): SegmentHeader {
    const { identity, heartbeatIntervalMs } = this.options;
    return { v: 1, ...identity, segment: this.segment, createdMs: Date.now(), heartbeatIntervalMs };
  }

  /** A memory-mapped segment has a fixed capacity: rotate before a write that would pass it. */
  private makeRoomFor(bytes: number): void {
    const appender = this.appender;
    if (appender && appender.bytes + bytes > appender.capacity) this.rotate(bytes);
  }

  private rotate(nextWriteBytes = 0): void {
    if (this.options.durability === 'host') this.syncNow();
    this.appender?.close();
    this.appender = undefined;
    this.openNextSegment(nextWriteBytes);
  }

  private openNextSegment(nextWriteBytes = 0): void {
    this.segment += 1;
    const head = this.segmentHead();
    try {
      this.appender = this.openSegment(head, nextWriteBytes);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.startSegment(head);
    if (this.brokenError !== undefined) {
      // Its head could not be written (a full disk): remove it rather than leave an empty
      // file behind at every attempt.
      this.appender?.close();
      this.appender = undefined;
      this.forgetSegment(this.segment, true);
    }
  }

  /** Room for the head, maxSegmentBytes of records, and the write that crosses that mark (or a larger one). */
  private openSegment(head: Buffer, nextWriteBytes = 0): SegmentFile {
    const preallocateBytes = head.length + this.options.maxSegmentBytes + Math.max(nextWriteBytes, PENDING_WRITE_BYTES);
    return openSegmentFile(segmentPath(this.writerDir, this.segment), { preallocateBytes, fs: this.options.fs });
  }

  /** A new segment's head: magic, header, resources, and the spans still open. */
  private segmentHead(): Buffer {
    return Buffer.concat([
      SEGMENT_MAGIC,
      encodeFrame(RecordType.SegmentHeader, JSON.stringify(this.header())),
      ...this.resourceJson.map((json) => encodeFrame(RecordType.Resource, json)),
      ...[...this.openStarts.values()].map((json) => encodeFrame(RecordType.SpanStart, json)),
    ]);
  }

  private startSegment(head: Buffer): void {
    this.segmentBytes.set(this.segment, 0);
    this.write(head);
    this.headBytes = this.appender?.bytes ?? 0;
    if (this.options.durability === 'host') this.syncDirectory();
  }

  private write(data: Buffer): boolean {
    const appender = this.appender;
    if (!appender || this.brokenError !== undefined) return false;
    try {
      // The segment was opened with room for its head and for every write makeRoomFor let through.
      if (appender.append(data) === 'no-room') throw new Error(`journal segment ${appender.path} has no room for ${data.length} bytes`);
    } catch (error) {
      this.fail(error);
      return false;
    }
    this.liveBytes += data.length;
    this.segmentBytes.set(this.segment, appender.bytes);
    if (this.options.durability === 'host') this.scheduleGroupCommit();
    return true;
  }

  /** Group commit: one fdatasync on the thread pool covers every record of the window. */
  private scheduleGroupCommit(): void {
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    setTimeout(() => {
      this.syncScheduled = false;
      const appender = this.appender;
      if (!appender || this.syncInFlight) {
        if (appender) this.scheduleGroupCommit();
        return;
      }
      this.syncInFlight = true;
      appender.syncDataInBackground((error) => {
        this.syncInFlight = false;
        if (error) this.fail(error);
      });
    }, this.options.groupCommitMillis).unref();
  }

  private syncDirectory(): void {
    try {
      const fd = openSync(this.writerDir, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Not every filesystem lets a directory be fsync'ed; the file's own data still is.
    }
  }

  private fail(error: unknown): void {
    if (this.brokenError !== undefined) return;
    this.brokenError = error;
    if (this.episodeReported) return;
    this.episodeReported = true;
    diag.error(
      `otel-blackbox: journal ${this.writerDir} cannot be written (${(error as Error)?.message ?? error}); ` +
        'spans are exported from memory until it can be written again',
    );
  }
}
