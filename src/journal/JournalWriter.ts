// The write side of one writer's journal: a directory of numbered segments, appended to
// synchronously: a START reaches the kernel before appendStart returns, an END before
// appendEnd returns, so a span that ended is on disk as ended whatever kills the process
// next. (Deferring ENDs to the end of the synchronous run saved ~1.5 µs a span but, in the
// crash-torture run, reported 3.4% of spans that had ended as crashed; see the README.)
// A segment the exporter has committed past is deleted once no START of a span still open
// is left in it: those STARTs are first written again into the live segment (carried
// forward, a bounded number per turn), unless they are most of the segment, which then
// stays until they end. So a span's START is in the journal while the span is open (one
// started while the journal was broken or full gets its START as soon as it can: see
// NOT_JOURNALED), and a rotation writes nothing but a small head. Each record
// is encoded straight into the segment (a mapped page, or a write(2) of one frame): no
// queue, no copy; the only per-span state is the open span itself, by id, until it ends, with
// what its END can reuse of the START's text (StartText in spanRecordJson.ts).
import { safeDiag } from '../safeDiag.js';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { existsSync, rmSync, unlinkSync } from '../untracedFs.js';
import { descriptorLostError } from './fileIdentity.js';
import { makeOwnerOnlyDir, makeOwnerOnlyDirs } from './ownerOnly.js';
import { join, resolve } from 'node:path';
import { FRAME_HEADER_BYTES, SEGMENT_MAGIC, encodeFrame } from './frame.js';
import { readableSpanFromRecord } from './readableSpanFromRecord.js';
import { longestRecoveryPathBytes, PATH_MAX_BYTES, segmentPath } from './journalPaths.js';
import { isAtOrAfter } from './JournalPosition.js';
import type { JournalPosition } from './JournalPosition.js';
import { logRecordPayload, readableLogFromRecord } from './logRecords.js';
import { HeldLog, RECENT_ENDS_CHARS, RecentEnds, recentEndsCapacity, type RecentEnd } from './RecentEnds.js';
import { OpenSpanTable } from './OpenSpanTable.js';
import { LongOpenSpans } from './LongOpenSpans.js';
import { NO_END, SettledSpans } from './SettledSpans.js';
import { GroupCommit } from './GroupCommit.js';
import { SegmentUnlinker } from './SegmentUnlinker.js';
import { SpareSegment } from './SpareSegment.js';
import { HeldSegment, RECORDS_RESCUED_PER_TURN, SegmentRescue, type RescuedRecord } from './SegmentRescue.js';
import { RecordType } from './recordTypes.js';
import type { CommitRecord, LogRecordPayload, ProcessExitRecord, SegmentHeader, SpanEndRecord, SpanStartRecord } from './recordTypes.js';
import { JournalResources } from './JournalResources.js';
import { recordJson } from './spanRecords.js';
import { endRecordJson, startRecordJson, StartText } from './spanRecordJson.js';
import { cappedRecordCount } from './recordCap.js';
import { bytesCopiedCount } from './attributeValues.js';
import { openSegmentFile, realFileSystem } from './segmentFile/openSegmentFile.js';
import type { SegmentFile, SegmentFileKind, SegmentFileSystem } from './segmentFile/openSegmentFile.js';
import type { WriterIdentity } from './writerIdentity.js';
import { holdWriterLock } from './livenessLocks.js';
import type { HeldLock } from './livenessLocks.js';

export type Durability = 'process' | 'host';

export interface JournalWriterOptions {
  journalDir: string;
  identity: WriterIdentity;
  durability: Durability;
  maxSegmentBytes: number;
  /** Bytes of records in the first segment (FIRST_SEGMENT_RECORD_BYTES), doubling up to maxSegmentBytes; tests set it. */
  firstSegmentBytes?: number;
  maxJournalBytes: number;
  groupCommitMillis: number;
  heartbeatIntervalMs: number;
  /** Where the exporter sends the spans (recordTypes.ts SegmentHeader.destination); recorded in every header. */
  destination?: string;
  /** The class of an exporter that names no destination (SegmentHeader.noDestination); recorded in every header. */
  noDestination?: string;
  /** How many spans the export side takes at a time: sizes the window of recent ENDs (recentEndsCapacity in RecentEnds.ts). */
  exportBatchSize?: number;
  /** How many recently written ENDs to keep as span objects for the export side, overriding what exportBatchSize gives (tests). */
  recentEndsCapacity?: number;
  /** Characters of their JSON those ENDs may hold at most. Default RECENT_ENDS_CHARS. */
  recentEndsChars?: number;
  /** File operations for the write(2) path; passing one selects that path (tests inject faults). */
  fs?: SegmentFileSystem;
  /**
   * Hold the writer lock that tells recovery this writer lives (livenessLocks.ts). Default
   * true; false only for tests that fake a dead writer's journal inside a live process.
   */
  lock?: boolean;
  /**
   * A span open for a second or more is held weakly (LongOpenSpans.ts); when the application
   * drops it without ending it and it is collected, this gets its START (as the journal
   * holds it) and resource, to make its crash record and write it as its END (appendEnd).
   * Without it every open span is held until it ends.
   */
  onAbandoned?: (start: SpanStartRecord, resource: Resource) => void;
}

export type { JournalPosition };

/**
 * Records in a writer's first segment, doubling with each next one up to maxSegmentBytes.
 * A mapped segment is preallocated whole when it is made, and a process SIGKILLed soon
 * after its start leaves that room behind until a later one recovers its journal: in a
 * crash loop of such kills (an application OOM-killed at start, restarted by its
 * supervisor) each incarnation left a whole maxSegmentBytes, 8 MiB by default; 1 MiB now.
 */
const FIRST_SEGMENT_RECORD_BYTES = 1024 * 1024;
/** Room past a segment's records for the record that crosses it (a larger one gets a segment sized for it). */
const CROSSING_RECORD_BYTES = 64 * 1024;
/**
 * Closed segments held open for reading at most (HeldSegment): with the database away they
 * pile up, one descriptor each, and an application has a limit of its own (often 1,024). Past
 * it, ENDs in segments closed later are lost to a removal as before (README, repair).
 */
const SEGMENTS_HELD_FOR_RESCUE = 64;
/** Room in a spare segment for a head larger than this one's: a header (resources come with the records that name them). */
const SPARE_HEAD_MARGIN_BYTES = 4 * 1024;

/**
 * STARTs of open spans carried forward per turn of the event loop when committed segments
 * are deleted: each is encoded afresh from its span (~1.5 µs), so a turn stays ~2 ms.
 */
export const OPEN_SPANS_CARRIED_PER_TURN = 1000;
/**
 * The mark of an open span whose START is in no segment yet (segments count from 1): it
 * started while the journal was broken or at maxJournalBytes, or its START was in a
 * segment removed under the writer. The next release of committed segments (a repair
 * makes one) writes it, room permitting; under 'host' a repair's head does.
 */
const NOT_JOURNALED = 0;

/** A span open now (held by the application still), and whether its START is in the journal (not when the journal was at its cap or broken). */
export interface OpenSpanNow {
  span: ReadableSpan;
  journaled: boolean;
}

export type AppendResult = 'written' | 'full' | 'broken';

/**
 * Removes a finished journal's directory, whole. The thread pool may still be unlinking
 * committed segments in it, and Node 24's rmSync, meeting a file that vanished under it,
 * stopped without a word and left the rest: seen under load in CI, a finished journal left
 * behind with ten committed segments, which a recovery then read for nothing. Again until
 * it is gone (a vanished file is no error the second time: it is not listed).
 */
function removeWhole(dir: string): void {
  for (let pass = 0; pass < 3 && existsSync(dir); pass++) rmSync(dir, { recursive: true, force: true });
}

/** The longest pause between repairs under 'host' whose syncs keep failing (JournalWriter.repairNotBefore). */
const MAX_REPAIR_PAUSE_MILLIS = 60_000;

export class JournalWriter {
  readonly writerDir: string;
  private readonly options: JournalWriterOptions;
  private appender: SegmentFile | undefined;
  /** Recently written ENDs and LOGs as objects: the export side takes them without reading back. */
  private readonly recentEnds: RecentEnds;
  /** Held while this writer's directory exists; undefined where it cannot be (livenessLocks.ts). */
  private lock: HeldLock | undefined;
  /** The last take of the lock failed for a reason that may pass (too many open files): tried again at each maintain(). */
  private lockToRetake = false;
  /** The next mapped segment, made while this one fills: a rotation then only writes its head. */
  private readonly spare = new SpareSegment();
  private segment = 0;
  /** Bytes of the current segment's head (header, resources; after a repair, the open spans' STARTs). */
  private headBytes = 0;
  /** Bytes of records past its head the current segment takes before the writer rotates (recordRoom). */
  private segmentRoom = FIRST_SEGMENT_RECORD_BYTES;
  /** Bytes of every segment not yet deleted, for the maxJournalBytes cap. */
  private liveBytes = 0;
  /** liveBytes when a START or a log record was last refused at maxJournalBytes (atCap). */
  private refusedAtBytes: number | undefined;
  private readonly segmentBytes = new Map<number, number>();
  /**
   * Spans whose END is not journaled yet, by trace id and span id, oldest first, each marked
   * with the segment its START's latest copy is in (carried forward before that segment is
   * deleted), or NOT_JOURNALED while it has none.
   */
  private readonly openSpans = new OpenSpanTable<StartText>();
  /** Holds the spans open a while weakly, and tells of those collected while open; undefined without onAbandoned. */
  private readonly longOpen: LongOpenSpans | undefined;
  private longOpenTimer: NodeJS.Timeout | undefined;
  /** close() was called: nothing is written any more, broken or not. */
  private closed = false;
  /** The process is exiting (releaseRoomAtExit): new segments are written with write(2). */
  private exiting = false;
  /** Spans that ended in a later segment than their START's: written down before that one may go (SettledSpans.ts). */
  private readonly settled: SettledSpans;
  /** 'host': side files of kept segments being synced; no segment is deleted meanwhile. */
  private settledSyncing = false;
  /** START segments of the spans endedElsewhere() noted since settleEndedElsewhere last ran. */
  private readonly endedElsewhereIn = new Set<number>();
  /** Characters of START payloads written, and their number: a START's average size. */
  private startChars = 0;
  private startsWritten = 0;
  /** Segments below this are committed: deleted once no open span's START is left in them. */
  private releaseBelow = 0;
  private releaseTimer: NodeJS.Timeout | undefined;
  /**
   * Committed segments a START has been carried out of: carried on until empty, whatever
   * the average START size says by then. Kept halfway instead, such a segment held stale
   * copies of spans whose latest copy was elsewhere: their ENDs were noted there, not for
   * it, and after a crash recovery took them for open.
   */
  private readonly carrying = new Set<number>();
  /**
   * Segments whose open spans' STARTs a repair found unsafe where they are (removed under
   * the writer, or the live segment no longer at its path): releaseSegments carries them
   * forward whether or not the segment is committed, and forgets it here once none is left.
   */
  private readonly mustCarry = new Set<number>();
  /**
   * Segments removed under the writer, still open, whose uncommitted ENDs and LOGs are being
   * copied into the live segment, oldest first (SegmentRescue.ts); the export side waits at
   * the first until they are (isRescuing).
   */
  private readonly rescues: SegmentRescue[] = [];
  private rescueTimer: NodeJS.Timeout | undefined;
  /** Closed segments with ENDs or LOGs not yet committed, open for reading until they are (HeldSegment). */
  private readonly heldClosed = new Map<number, HeldSegment>();
  /** The live segment a rotation found removed: written on until the repair (removedAtRotation). */
  private removedSegment = 0;
  /** Where the export side has read up to (JournalTail, through readBy); nothing before a tail is made. */
  private tailPosition: () => JournalPosition = () => ({ segment: 0, offset: 0 });
  /** Deletes committed segments, oldest first; those queued count as gone already. */
  private readonly unlinker: SegmentUnlinker;
  /** 'host': the syncs (GroupCommit.ts); none under 'process'. */
  private readonly groupCommit: GroupCommit | undefined;
  /**
   * The resources records name. A segment holds the RESOURCE of every record in it that
   * names one, written just before the first such record (appendNaming): each segment is
   * read and deleted on its own. Written into every head instead, 5,000 resources (a
   * provider per tenant) made each rotation write 2.9 MB and stall the span call that
   * crossed it 78 ms, and a provider made per job made the journal's writes grow with the
   * square of the run (an attack: 675 MB for 16,000 spans).
   */
  private readonly resources = new JournalResources((segment) => segmentPath(this.writerDir, segment));
  private brokenError: unknown;
  /**
   * A broken journal is reported once per episode, not at every repair attempt. Under
   * 'host' the episode ends at the first sync after the repair, not at the repair: with
   * every sync failing, each repair was said as a recovery, a second before the next group
   * commit broke the journal again, and stats() called it healthy meanwhile.
   */
  private episodeReported = false;
  /**
   * Under 'host': repairs in a row whose syncs failed, and when maintain() tries the next.
   * Tried every second, a dying disk got a new segment a second (13.5 MiB in 12 s, a review).
   */
  private syncFailuresAfterRepair = 0;
  private repairNotBefore = 0;
  /** Where the last record written ends (segment, offset): set by writeRecord. */
  private writtenSegment = 0;
  private writtenEnd = 0;
  /** Where the last END or LOG landed (segment 0: none yet): the records the exporter must commit. */
  private exportedSegment = 0;
  private exportedEnd = 0;
  /** The highest COMMIT watermark written. */
  private committedAt: JournalPosition | undefined;
  /** SPAN_END records written into each segment: the tail settles what damage made it miss. */
  private readonly exportsBySegment = new Map<number, number>();
  /** Every byte written into segments, heads and carried STARTs included. */
  bytesWritten = 0;
  /** SPAN_END records written so far: the export side compares its own count to this. */
  endsWritten = 0;
  /** LOG records written so far. */
  logsWritten = 0;
  /** The next LOG record's sequence number (see appendLog). */
  private nextLogSequence = 0;

  /** Creates the writer's directory and first segment; throws if the directory is unusable. */
  constructor(options: JournalWriterOptions) {
    this.options = options;
    this.recentEnds = new RecentEnds(options.recentEndsCapacity ?? recentEndsCapacity(options.exportBatchSize), options.recentEndsChars ?? RECENT_ENDS_CHARS);
    const longest = longestRecoveryPathBytes(resolve(options.journalDir));
    if (longest >= PATH_MAX_BYTES) {
      // Refused before anything is written: such a journal would never be recovered.
      throw new Error(
        `journalDir is too long: recovery's paths under it reach ${longest} bytes, and a path may have at most ${PATH_MAX_BYTES - 1}; ` +
          'a crash could never be recovered from it',
      );
    }
    makeOwnerOnlyDirs(options.journalDir);
    this.writerDir = join(options.journalDir, options.identity.writerId);
    this.settled = new SettledSpans(this.writerDir);
    this.longOpen = options.onAbandoned === undefined ? undefined : new LongOpenSpans((start) => this.spanCollected(start));
    this.groupCommit =
      options.durability === 'host'
        ? new GroupCommit({
            writerDir: this.writerDir,
            groupCommitMillis: options.groupCommitMillis,
            fs: options.fs,
            appender: () => this.appender,
            failed: (error) => this.fail(error),
            carriedSynced: () => this.releaseSegments(),
            synced: () => this.syncedAfterRepair(),
          })
        : undefined;
    this.unlinker = new SegmentUnlinker(this.writerDir, {
      // A segment counts against maxJournalBytes until its file is gone. Counted gone once
      // queued, deletions waiting behind a thread pool the application kept busy took the
      // journal to four times its cap, and the application's own writes failed for a full
      // disk (an attack).
      unlinked: (segment) => {
        this.liveBytes -= this.segmentBytes.get(segment) ?? 0;
        this.segmentBytes.delete(segment);
        this.carrying.delete(segment);
        this.liveBytes -= this.settled.forget(segment);
        // Room given back: STARTs refused at the cap are written now (releaseSegments).
        if (this.releaseTimer === undefined && !this.closed && this.openSpans.hasMark(NOT_JOURNALED)) this.releaseInNextTurn();
      },
      // Still counted, and queued again at the next release.
      kept: () => {},
    });
    makeOwnerOnlyDir(this.writerDir);
    // Before the first header, which says whether the writer holds it.
    if (options.lock !== false) this.takeLock();
    // Here a failure throws (the caller decides how to report it, and retries with a new
    // writer: the lock goes with this one); later ones degrade. Not said by the writer
    // meanwhile: a disk full at start made a new writer, and a new error line, every second.
    this.episodeReported = true;
    try {
      this.segment = 1;
      const head = this.segmentHead();
      this.appender = this.openSegment(head);
      this.startSegment(head);
      if (this.brokenError !== undefined) throw this.brokenError;
      this.episodeReported = false;
    } catch (error) {
      // Nothing of this writer is left behind: the caller retries with a new one, every
      // second while the disk stays full, and each attempt kept a descriptor and a directory.
      try {
        this.appender?.close();
      } catch {
        // Closing is all that is left to do with it.
      }
      this.appender = undefined;
      this.lock?.release();
      try {
        rmSync(this.writerDir, { recursive: true, force: true });
      } catch {
        // The error that matters is the one below.
      }
      throw error;
    }
  }

  get writerId(): string {
    return this.options.identity.writerId;
  }

  /** Under 'host': repaired, and no sync begun after the repair has succeeded yet (the episode goes on). */
  private get repairedUnsynced(): boolean {
    return this.episodeReported && this.brokenError === undefined;
  }

  /** Writing, and under 'host' syncing: not broken, and not repaired without a sync since. */
  get healthy(): boolean {
    return this.brokenError === undefined && !this.episodeReported;
  }

  /** A group commit synced (GroupCommit): a repair before it was a recovery. */
  private syncedAfterRepair(): void {
    // Only a sync begun after the repair counts (carriedNow() set the mark): one in flight on
    // the old segment when it broke may end after the repair, and proves nothing of it.
    if (!this.repairedUnsynced || this.groupCommit?.carriedAreSynced !== true) return;
    this.syncFailuresAfterRepair = 0;
    this.repairNotBefore = 0;
    this.endEpisode();
  }

  private endEpisode(): void {
    this.episodeReported = false;
    // After the failure was said (fail(): once the call that failed is done), not before it.
    // At the level its failure was said at (error): an operator who sees the one sees the other.
    queueMicrotask(() => safeDiag.warn(`otel-blackbox: journal ${this.writerDir} writable again`));
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
    return this.openSpans.size;
  }

  /** The spans open now (not ended), oldest first, and whether the journal holds their START. */
  /** Whether the START of `span`, open here, is in a segment on disk (a crash record stands for it at recovery). */
  holdsStartOf(span: ReadableSpan): boolean {
    const { traceId, spanId } = span.spanContext();
    return this.openSpans.get(traceId, spanId) !== undefined && this.openSpans.lastMark !== NOT_JOURNALED;
  }

  openSpansNow(): OpenSpanNow[] {
    const spans: OpenSpanNow[] = [];
    this.openSpans.forEachMark((open, mark) => {
      const span = open.span;
      if (span !== undefined && span.ended !== true) spans.push({ span, journaled: mark !== NOT_JOURNALED });
    });
    return spans;
  }

  /**
   * Bytes the journal takes on disk: its records, heads and side files (liveBytes, what
   * maxJournalBytes caps), and the room preallocated for more: a mapped segment is
   * preallocated whole, and so is the spare made ahead of the next rotation.
   */
  get bytesOnDisk(): number {
    const appender = this.appender;
    const room = appender !== undefined && appender.kind === 'mmap' && !appender.closed ? appender.capacity - appender.bytes : 0;
    return this.liveBytes + room + this.spare.bytes;
  }

  get segmentsOnDisk(): number {
    // Those queued for deletion too, as in bytesOnDisk: their files are there.
    return this.segmentBytes.size;
  }

  /** Of segmentsOnDisk, those committed and queued for deletion on the thread pool. */
  get segmentsBeingDeleted(): number {
    return this.unlinker.queued;
  }

  /**
   * Where a closed segment's records end: its file may hold preallocated zeros past them
   * until it is cut on the thread pool. undefined for the live segment and unknown ones.
   */
  closedSegmentEnd(segment: number): number | undefined {
    return segment === this.segment ? undefined : this.segmentBytes.get(segment);
  }

  /**
   * At maxJournalBytes: a START or a log record was refused for want of room, and no segment has been freed
   * since (the records on disk are at least what they were then). By level, not by the
   * last START's fate: a small START that squeezes in past a refused large one does not
   * mean the journal has room.
   */
  get atCap(): boolean {
    return this.refusedAtBytes !== undefined && this.liveBytes >= this.refusedAtBytes;
  }

  /** Where the current segment ends: every record appended so far is before it. */
  position(): JournalPosition {
    return { segment: this.segment, offset: this.appender?.bytes ?? 0 };
  }

  appendStart(span: ReadableSpan): AppendResult {
    const { traceId, spanId } = span.spanContext();
    const start = new StartText(span);
    const result = this.writeStart(span, start);
    // Open either way. Written, marked with the segment the START is in (a START too large
    // for the room left in a mapped segment rotates first): that segment is deleted only
    // after the START is carried forward (releaseSegments); deleted before, a crash would
    // leave the span with no START, lost. Refused, it is still the journal's to write
    // (NOT_JOURNALED): forgotten, the span went its whole life without one, and a crash
    // left neither a crash record nor a count of it.
    this.openSpans.set(traceId, spanId, start, result === 'written' ? this.writtenSegment : NOT_JOURNALED);
    return result;
  }

  private writeStart(span: ReadableSpan, start: StartText): AppendResult {
    if (this.brokenError !== undefined) return 'broken';
    const resourceId = this.resourceIdFor(span.resource);
    const json = startRecordJson(span, resourceId, start);
    if (this.overCap(json.length + this.resourceRecordChars(resourceId))) {
      this.refusedAtBytes = this.liveBytes;
      return 'full';
    }
    if (!this.writeRecord(RecordType.SpanStart, json, resourceId)) return 'broken';
    this.startChars += json.length;
    this.startsWritten += 1;
    return 'written';
  }

  /**
   * A span whose START was journaled may pass the cap: its END is what ends the record.
   * `pastCap`: for the overflow marker at shutdown only (JournalSpanProcessor): one small
   * record past maxJournalBytes beats losing the count of what the cap dropped.
   */
  appendEnd(span: ReadableSpan, options?: { pastCap?: boolean }): AppendResult {
    const { traceId, spanId } = span.spanContext();
    // Broken, the span stays open here: its START (or the one a repair writes) is its only
    // record on disk while the caller holds it in memory, until that copy is exported or
    // dropped (endedElsewhere). Taken out, its START went with the next repair or commit of
    // its segment, and a crash before the memory batch committed left no trace of the span.
    if (this.brokenError !== undefined) return 'broken';
    const open = this.openSpans.take(traceId, spanId);
    const mark = this.openSpans.lastMark;
    const journaled = open !== undefined && mark !== NOT_JOURNALED;
    const mine = open?.reusableFor(span);
    const capped = cappedRecordCount();
    const bytes = bytesCopiedCount();
    const resourceId = this.resourceIdFor(span.resource);
    const json = endRecordJson(span, resourceId, mine);
    // At the cap with no START written: nothing on disk to keep, the caller holds the span.
    if (!options?.pastCap && !journaled && this.overCap(json.length + this.resourceRecordChars(resourceId))) return 'full';
    if (!this.writeRecord(RecordType.SpanEnd, json, resourceId)) {
      if (open !== undefined) this.openSpans.set(traceId, spanId, open, mark);
      return 'broken';
    }
    this.endsWritten += 1;
    if (open !== undefined) this.longOpen?.forget(open);
    if (journaled && mark !== this.writtenSegment) this.settled.note(mark, traceId, spanId, this.writtenSegment);
    // A record cut down to fit one frame (recordCap.ts), or one holding bytes (a Uint8Array
    // the SDK keeps by reference, which the application may fill again after end(): the
    // live row had the new bytes, the recovered one those of end()): the export side must
    // get what the journal holds, as it would reading it back.
    const asWritten = cappedRecordCount() === capped && bytesCopiedCount() === bytes;
    this.exportRecordWritten(asWritten ? span : readableSpanFromRecord(JSON.parse(json) as SpanEndRecord, span.resource), undefined, json.length);
    return 'written';
  }

  /**
   * The caller's copy of a span whose END the journal could not write (appendEnd said
   * 'broken') was exported, or dropped and counted: its START is needed no more. One the
   * caller gives up on at its stop deadline stays, for recovery to write its crash record.
   */
  endedElsewhere(span: ReadableSpan): void {
    const { traceId, spanId } = span.spanContext();
    const open = this.openSpans.get(traceId, spanId);
    // An abandoned span's crash record is the only copy of it there can be.
    if (open === undefined || (open.span !== span && !open.abandoned)) return;
    this.openSpans.take(traceId, spanId);
    // Its END is nowhere in the journal: the START's segment, kept, would say it is open.
    const mark = this.openSpans.lastMark;
    if (mark === NOT_JOURNALED) return;
    this.settled.note(mark, traceId, spanId, NO_END);
    this.endedElsewhereIn.add(mark);
    if (this.endedElsewhereIn.size === 1) queueMicrotask(() => this.settleEndedElsewhere());
  }

  /**
   * Writes down in their STARTs' side files the spans endedElsewhere() noted: once for a
   * caller's whole memory batch, which it hands over one span after another. Left noted
   * until the next deletion their segment outlived, as they were, a crash before it gave
   * each a crash record though its row was committed as ended. While the journal is broken
   * they stay noted, as they do when this fails: a repair writes them down before it
   * deletes, and so does the next release. Under 'host' synced on the thread pool, in turn
   * with the other syncs: at shutdown this follows the crash records of the spans still
   * open, and synced here it held the application's thread 3 s on a slow disk.
   */
  private settleEndedElsewhere(): void {
    const segments = [...this.endedElsewhereIn];
    this.endedElsewhereIn.clear();
    if (this.appender === undefined || this.brokenError !== undefined) return;
    const { written } = this.persistSettled(segments, []);
    if (written.length === 0) return;
    // Written all the same if the sync fails: only a power loss before the next sync could cost the note.
    this.groupCommit?.queueSync((done) => this.settled.sync(written, () => done()));
  }

  /**
   * A LOG record, written before this returns like an END. Its sequence number (with the
   * writer id, the record's key in the database) is taken before it is encoded: encoding
   * runs the application's code (a body's toJSON, a getter), which may log too, and that
   * record must get a number of its own. A record not written leaves a gap, never a twin.
   */
  appendLog(logRecord: ReadableLogRecord): AppendResult {
    if (this.brokenError !== undefined) return 'broken';
    const sequence = this.nextLogSequence++;
    const capped = cappedRecordCount();
    const resourceId = this.resourceIdFor(logRecord.resource);
    const { payload, copied } = logRecordPayload(logRecord, sequence, resourceId);
    const json = recordJson(payload);
    if (this.overCap(json.length + this.resourceRecordChars(resourceId))) {
      // At its cap for log records as for STARTs: an application that only logs was told journalFull: false while it dropped them.
      this.refusedAtBytes = this.liveBytes;
      return 'full';
    }
    if (!this.writeRecord(RecordType.LogRecord, json, resourceId)) return 'broken';
    this.logsWritten += 1;
    // The exporter gets what the journal holds: a record cut down to fit, as read back;
    // one copied with care, that copy (decoded in place: its JSON is written).
    const held =
      cappedRecordCount() !== capped
        ? readableLogFromRecord(JSON.parse(json) as LogRecordPayload, logRecord.resource)
        : copied
          ? readableLogFromRecord(payload, logRecord.resource)
          : logRecord;
    this.exportRecordWritten(undefined, new HeldLog(held, sequence), json.length);
    return 'written';
  }

  /** ENDs and LOGs written: the records the exporter must commit (or the tail count lost). */
  get exportRecordsWritten(): number {
    return this.endsWritten + this.logsWritten;
  }

  /**
   * Records where an END or LOG landed: counted in that segment (not where the writer
   * stands now: a write may rotate after it, and the tail settles each segment's records as
   * it passes it), and held as the object it was written from for the tail.
   */
  private exportRecordWritten(span: ReadableSpan | undefined, log: HeldLog | undefined, chars: number): void {
    const segment = this.writtenSegment;
    const end = this.writtenEnd;
    this.exportedSegment = segment;
    this.exportedEnd = end;
    this.exportsBySegment.set(segment, (this.exportsBySegment.get(segment) ?? 0) + 1);
    this.recentEnds.push(span, log, segment, end, chars);
  }

  /** Up to `max` ENDs and LOGs written right after `position`, or undefined when the tail must read them from disk (see RecentEnds). */
  takeRecentAfter(position: JournalPosition, max: number, maxChars?: number): RecentEnd[] | undefined {
    return this.recentEnds.takeAfter(position, max, maxChars);
  }

  /**
   * The oldest open span the pending-span scan has not read yet (OpenSpanTable's bookmark),
   * or undefined; readOpenSpan() marks it read. Passed over for good: spans that ended while
   * the journal was broken (kept for their START only). A span whose START is not journaled
   * yet (NOT_JOURNALED: the journal was full when it started) ends the reading until it is:
   * a 'started' row made for it would never become 'ended' or 'crashed' if the process died
   * before its START was written, and passed over, it never got one once its START was.
   */
  nextUnreadOpenSpan(): ReadableSpan | undefined {
    for (;;) {
      const open = this.openSpans.afterBookmark();
      if (open === undefined || this.openSpans.lastMark === NOT_JOURNALED) return undefined;
      // Collected: its crash record comes as an END.
      const span = open.span;
      if (span !== undefined && span.ended !== true) return span;
      this.openSpans.advanceBookmark();
    }
  }

  /** The span nextUnreadOpenSpan() returned is read: the next call returns the one after it. */
  readOpenSpan(): void {
    this.openSpans.advanceBookmark();
  }

  /**
   * A span still open in this process whose START is in the journal, by its trace id and
   * span id. Not one that ended while the journal was broken: kept for its START only
   * (appendEnd), its row comes from the caller's memory batch.
   */
  openSpan(traceId: string, spanId: string): ReadableSpan | undefined {
    const span = this.openSpans.get(traceId, spanId)?.span;
    return span !== undefined && this.openSpans.lastMark !== NOT_JOURNALED && span.ended !== true ? span : undefined;
  }

  appendHeartbeat(): void {
    if (!this.writeRecord(RecordType.Heartbeat, JSON.stringify({ ms: Date.now() }))) return;
    try {
      // A mapped segment's time does not move with its stores (MmapSegmentFile.touch).
      this.appender?.touch();
    } catch {
      // Only a sign of life lost: the heartbeat record itself is written.
    }
  }

  /**
   * Under 'host', synced at once: the process may be about to end. Not at shutdown()
   * (`syncLater`), which syncs it on the thread pool with the rest (whenSynced): a sync on
   * the application's thread there stalled it as long as the disk took.
   */
  appendProcessExit(record: ProcessExitRecord, options?: { syncLater?: boolean }): void {
    this.writeRecord(RecordType.ProcessExit, recordJson(record));
    if (this.options.durability === 'host' && options?.syncLater !== true) this.syncNow();
  }

  /**
   * The process exits ('exit': no turn of the event loop and no thread-pool callback comes
   * again). A mapped segment gives back here the room preallocated past its records, which
   * its release on the thread pool would have (an application that threw at start, in a
   * crash loop, left a journal of 8 MiB per restart, for as long as the loop went on), and
   * the spare goes. Records written after this (by another 'exit' listener) go to a next
   * segment written with write(2), which takes only the room it is written with.
   */
  releaseRoomAtExit(): void {
    if (this.closed || this.exiting) return;
    this.exiting = true;
    this.spare.clear();
    const appender = this.appender;
    if (appender === undefined || appender.kind !== 'mmap' || this.brokenError !== undefined) return;
    this.closeAppender('atExit');
    this.openNextSegment();
  }

  appendCommit(position: JournalPosition): void {
    this.committedAt = position;
    const record: CommitRecord = { ms: Date.now(), segment: position.segment, offset: position.offset };
    this.writeRecord(RecordType.Commit, JSON.stringify(record));
  }

  /**
   * Writes one record into the current segment, rotating first when a mapped segment has
   * no room for it, and after it when the segment is full. False when the journal is broken.
   */
  private writeRecord(type: RecordType, json: string, resourceId?: number): boolean {
    let appender = this.appender;
    if (appender === undefined || this.brokenError !== undefined) return false;
    try {
      let before = appender.bytes;
      if (!this.appendNaming(appender, type, json, resourceId)) {
        this.countWritten(appender.bytes - before);
        // Room for the record and its RESOURCE, which the next segment does not hold.
        const resourceChars = resourceId === undefined ? 0 : FRAME_HEADER_BYTES + (this.resources.json(resourceId)?.length ?? 0);
        this.rotate(FRAME_HEADER_BYTES + (json.length + resourceChars) * 3);
        appender = this.appender;
        if (appender === undefined || this.brokenError !== undefined) return false;
        before = appender.bytes;
        if (!this.appendNaming(appender, type, json, resourceId)) throw new Error(`journal segment ${appender.path} has no room for a ${json.length}-character record`);
      }
      this.countWritten(appender.bytes - before);
    } catch (error) {
      this.fail(error);
      return false;
    }
    this.writtenSegment = this.segment;
    this.writtenEnd = appender.bytes;
    // A heartbeat is a sign of life, which nothing waits on: synced with the next record
    // that is. Synced on its own, an idle 'host' writer synced every 2 s (an attack: 1,800
    // syncs and 7 MB of writes an hour, with no span at all).
    if (type !== RecordType.Heartbeat) this.groupCommit?.schedule();
    // Only records written after the head count: with many spans open, the carried-forward
    // STARTs alone can exceed maxSegmentBytes, and counting them would rotate on every write.
    const recordBytes = appender.bytes - this.headBytes;
    if (recordBytes >= this.segmentRoom) this.rotate();
    else if (recordBytes >= this.segmentRoom / 2 && appender.kind === 'mmap' && !this.spare.askedFor(this.segment + 1)) this.prepareSpare();
    return true;
  }

  /**
   * Appends a record, after the RESOURCE it names (`resourceId`) where this segment does not
   * hold it yet: false when they do not fit (the RESOURCE may be in, and is written again
   * into the next segment).
   */
  private appendNaming(appender: SegmentFile, type: RecordType, json: string, resourceId: number | undefined): boolean {
    const resource = this.resources.recordFor(resourceId, this.segment);
    if (resource !== undefined) {
      const offset = appender.bytes;
      if (appender.appendFrame(RecordType.Resource, resource) === 'no-room') return false;
      this.resources.writtenIn(resourceId!, this.segment, { segment: this.segment, offset, end: appender.bytes });
    }
    return appender.appendFrame(type, json) !== 'no-room';
  }

  private countWritten(bytes: number): void {
    this.liveBytes += bytes;
    this.bytesWritten += bytes;
  }

  /**
   * Everything the exporter must commit in segments below `segment` is committed: they are
   * deleted once the spans still open in them are carried forward (releaseSegments). Called
   * at every commit, it looks again only once the watermark has entered a later segment:
   * a look counts the open spans by segment, and with many of them open (a leak), doing it
   * at every commit would cost more than a segment kept a little longer.
   */
  deleteSegmentsBefore(segment: number): void {
    if (segment <= this.releaseBelow) return;
    this.releaseBelow = segment;
    for (const [held, file] of this.heldClosed) {
      if (held >= segment) continue;
      file.close();
      this.heldClosed.delete(held);
    }
    this.releaseSegments();
  }

  /**
   * Deletes the committed segments no open span's START is left in, after carrying forward
   * the STARTs of those where they are at most half the segment's bytes: up to
   * OPEN_SPANS_CARRIED_PER_TURN of them, oldest first, each encoded afresh from its span
   * (attributes set since come along; readers keep the latest copy), the rest in later
   * turns, so a thousand open spans cost the event loop a few milliseconds at a time. A
   * segment that is mostly STARTs of spans still open (long jobs, or a leak) stays until
   * enough of them end: carrying it would write about as much as it frees, and its copies
   * would be carried again at the next commit, and the next. Under 'host' a deletion after
   * a carry waits for a group commit begun after the copies were written.
   */
  private releaseSegments(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    if (this.closed) return;
    // Here, at a commit, not in a span call: giving back a burst's room is O(open spans),
    // as the pass below is.
    this.openSpans.shrinkIfSparse();
    const below = this.releaseBelow;
    const committed = [...this.segmentBytes.keys()].filter((segment) => segment < below && segment !== this.segment && !this.unlinker.has(segment));
    // Open spans whose START is in each committed segment (or one a repair found unsafe),
    // counted from their marks.
    const open = new Map<number, number>();
    this.openSpans.forEachMark((_start, segment) => {
      if (segment < below || this.mustCarry.has(segment)) open.set(segment, (open.get(segment) ?? 0) + 1);
    });
    for (const segment of this.mustCarry) {
      if (open.get(segment)) continue;
      this.mustCarry.delete(segment);
      // One removed under the writer is forgotten already: what was noted for it since goes.
      if (!this.segmentBytes.has(segment)) {
        this.carrying.delete(segment);
        this.liveBytes -= this.settled.forget(segment);
      }
    }
    const startBytes = this.startsWritten === 0 ? 0 : FRAME_HEADER_BYTES + this.startChars / this.startsWritten;
    const carryFrom = new Set(committed.filter((segment) => this.carrying.has(segment) || (open.get(segment) ?? 0) * startBytes * 2 <= this.segmentBytes.get(segment)!));
    for (const segment of this.mustCarry) carryFrom.add(segment);
    let budget = OPEN_SPANS_CARRIED_PER_TURN;
    let carried = false;
    if (open.size > 0) {
      this.openSpans.remark((start, segment) => {
        if (budget === 0 || !carryFrom.has(segment) || this.brokenError !== undefined) return segment;
        budget -= 1;
        const carriedTo = this.carryForward(start);
        if (carriedTo === undefined) return segment;
        this.carrying.add(segment);
        carried = true;
        open.set(segment, open.get(segment)! - 1);
        return carriedTo;
      });
    }
    if (carried) this.groupCommit?.carriedNow();
    // Else the group commit that syncs the copies calls this again.
    // Not past a segment still being carried: it holds stale copies of the spans already
    // carried out of it, whose ENDs are noted for the segments they were carried into.
    const carriedUpTo = Math.min(...[...this.carrying].filter((segment) => open.get(segment)));
    const deleting = committed.filter((segment) => !open.get(segment) && segment < carriedUpTo);
    if (deleting.length > 0 && (this.groupCommit?.carriedAreSynced ?? true)) {
      this.deleteSegments(
        deleting,
        committed.filter((segment) => open.get(segment)),
      );
    }
    budget = this.journalUnwrittenStarts(budget);
    // What this turn's budget left undone (STARTs to carry or write) goes on in the next.
    if (budget === 0 && this.brokenError === undefined) this.releaseInNextTurn();
  }

  private releaseInNextTurn(): void {
    this.releaseTimer = setTimeout(() => this.releaseSegments(), 0);
    this.releaseTimer.unref();
  }

  /**
   * Writes the STARTs of open spans that have none yet (NOT_JOURNALED: started while the
   * journal was broken or full), as many as `budget` allows and maxJournalBytes has room
   * for, now that committed segments have given some back. Returns what is left of `budget`.
   */
  private journalUnwrittenStarts(budget: number): number {
    if (budget === 0 || this.brokenError !== undefined || !this.openSpans.hasMark(NOT_JOURNALED)) return budget;
    // Stops at the first that does not fit: the others wait for the next release, and a
    // pass that writes nothing never asks for another turn (at the cap with many such
    // spans, it would have spun the event loop).
    let refused = false;
    this.openSpans.remark((start, segment) => {
      if (segment !== NOT_JOURNALED || refused || budget === 0 || this.brokenError !== undefined) return segment;
      const writtenIn = this.carryForward(start, true);
      if (writtenIn === undefined) {
        refused = true;
        return NOT_JOURNALED;
      }
      budget -= 1;
      return writtenIn;
    });
    return budget;
  }

  /**
   * A fresh START of an open span, written into the live segment; the segment it is in, or
   * undefined if it could not be written. `withinCap`: only under maxJournalBytes (a START
   * never written adds bytes; a carried one replaces a copy about to be deleted).
   */
  private carryForward(start: StartText, withinCap = false): number | undefined {
    const { json, resourceId } = this.startNow(start);
    if (withinCap && this.overCap(json.length + this.resourceRecordChars(resourceId))) return undefined;
    if (!this.writeRecord(RecordType.SpanStart, json, resourceId)) return undefined;
    return this.writtenSegment;
  }

  /**
   * Deletes these committed segments once the spans whose ENDs they hold and whose STARTs
   * are in segments that stay (`kept`) are written down (SettledSpans.ts); under 'host',
   * synced first, on the thread pool, whose callback releases again. A side file that
   * cannot be written breaks the journal (a full disk, as for a record): they all stay.
   */
  private deleteSegments(deleting: number[], kept: number[]): void {
    if (this.settledSyncing) return;
    const { written, error } = this.persistSettled(kept, deleting);
    if (error !== undefined) {
      // None goes: a segment holding ENDs that could not be written down may hold STARTs
      // whose ENDs are in the others. The failure is reported as the journal's.
      this.fail(error);
      return;
    }
    if ((written.length === 0 && !this.settled.hasUnsynced) || this.options.durability !== 'host') {
      this.unlinkSegments(deleting);
      return;
    }
    this.settledSyncing = true;
    this.groupCommit!.queueSync((done) =>
      this.settled.sync(written, (error) => {
        this.settledSyncing = false;
        done();
        if (this.closed) return; // closed meanwhile
        if (error !== null) this.fail(error);
        else this.releaseSegments();
      }),
    );
  }

  /** Deletes these closed segments (SegmentUnlinker); each counts against maxJournalBytes until its file is gone. */
  private unlinkSegments(segments: readonly number[]): void {
    this.resources.segmentsLeaving(segments);
    this.unlinker.queue(segments);
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
    if (this.brokenError === undefined && current && !current.isAtItsPath()) {
      // A swept descriptor: the repair's close lets its number be (SegmentFile.descriptorIsItsOwn).
      const error = current.descriptorIsItsOwn() ? new Error(`segment ${current.path} was deleted or replaced (by a cleanup job, or a move of the journal directory)`) : descriptorLostError(current.path);
      this.fail(error);
    }
    if (this.brokenError === undefined) this.relockIfLost();
    const working = this.brokenError !== undefined && performance.now() < this.repairNotBefore ? false : this.tryRepair();
    this.resources.retire(Math.min(this.segment, ...this.segmentBytes.keys()));
    this.holdLongOpenWeakly(true);
    return working;
  }

  /**
   * A START of an open span to write again: encoded afresh from the span (attributes set
   * since its start come along), or the text kept when it is held weakly and was collected.
   */
  private startJsonNow(start: StartText): string {
    return this.startNow(start).json;
  }

  /** startJsonNow(), with the id of the resource it names (undefined: a kept text that names none readable). */
  private startNow(start: StartText): { json: string; resourceId: number | undefined } {
    const span = start.span;
    if (span !== undefined) {
      const resourceId = this.resourceIdFor(span.resource);
      return { json: startRecordJson(span, resourceId), resourceId };
    }
    const json = start.startJson!;
    const { r } = JSON.parse(json) as SpanStartRecord;
    return { json, resourceId: typeof r === 'number' && this.resources.has(r) ? r : undefined };
  }

  /** LongOpenSpans.look, continued in the next turns while spans are left. */
  private holdLongOpenWeakly(fresh: boolean): void {
    clearTimeout(this.longOpenTimer);
    this.longOpenTimer = undefined;
    if (this.longOpen === undefined || this.closed) return;
    try {
      if (!this.longOpen.look(this.openSpans, (start) => this.startJsonNow(start), fresh)) return;
    } catch (error) {
      // Held strongly still, as before: only memory is at stake. Tried again at the next look.
      safeDiag.error('otel-blackbox: holding long-open spans weakly failed', error);
      return;
    }
    this.longOpenTimer = setTimeout(() => this.holdLongOpenWeakly(false), 0);
    this.longOpenTimer.unref();
  }

  /**
   * A span held weakly was collected while open (LongOpenSpans): the application dropped it
   * without ending it. The caller gets its START to make its crash record, which it writes
   * as the span's END (appendEnd), or keeps in memory as any END the journal cannot take.
   * From a finalization task of its own: nothing here may throw.
   */
  private spanCollected(start: StartText): void {
    try {
      if (this.closed) return;
      const record = JSON.parse(start.startJson!) as SpanStartRecord;
      if (start.abandoned || this.openSpans.get(record.t, record.s) !== start) return; // ended meanwhile
      start.markAbandoned();
      this.options.onAbandoned!(record, this.resourceById(record.r));
    } catch (error) {
      safeDiag.error('otel-blackbox: the crash record of a span dropped without being ended could not be made', error);
    }
  }

  /**
   * At shutdown: the spans already collected whose collection has not been reported yet
   * (it may come too late, or never) get their crash records now, a bounded number per
   * turn (LongOpenSpans.reportCollected); resolves once they have.
   */
  reportCollectedSpans(): Promise<void> {
    return this.longOpen?.reportCollected(this.openSpans) ?? Promise.resolve();
  }

  /**
   * After a failure: make the directory again if it is gone, free what is no longer needed,
   * and start a fresh segment carrying the spans still open. Quiet until it works again:
   * the failure was reported once, at the start of the episode.
   */
  tryRepair(): boolean {
    if (this.brokenError === undefined) return true;
    const previous = this.brokenError;
    const closed = this.appender;
    // Deleted, replaced, or its descriptor swept: what it holds is not known to be at its path.
    const closedIntact = closed?.isAtItsPath() ?? true;
    const closedSegment = this.segment;
    // Every END and LOG written so far committed: nothing before the new segment is needed
    // but the STARTs of spans still open.
    const lastExportAt = { segment: this.exportedSegment, offset: this.exportedEnd };
    const allCommitted = closed !== undefined && (this.exportedSegment === 0 || (this.committedAt !== undefined && isAtOrAfter(this.committedAt, lastExportAt)));
    // Removed with ENDs or LOGs not yet committed in it: they are copied into the new
    // segment from the file, kept open (SegmentRescue.ts), as those of closed segments held
    // for reading are (below).
    const rescue = closed !== undefined && !closedIntact && !allCommitted && (this.exportsBySegment.get(closedSegment) ?? 0) > 0 && closed.descriptorIsItsOwn();
    this.closeAppender(rescue ? 'kept' : 'plain');
    if (rescue) {
      const from = this.committedAt?.segment === closedSegment ? this.committedAt.offset : 0;
      this.rescues.push(new SegmentRescue(closed, closedSegment, from));
      // The export side reads them as copies, not from the window of recent ENDs.
      this.recentEnds.letGo();
    }
    // Holding no open span's START either, it goes now: a full disk gets its room back here
    // instead of waiting for records that cannot be written.
    // Not while older segments wait to be deleted: this one would go first (SegmentUnlinker).
    const early = allCommitted && this.unlinker.queued === 0 && !this.openSpans.hasMark(this.segment);
    if (early && this.settledBeforeRepairDeletes([this.segment])) this.forgetSegment(this.segment, true);
    // Segments removed under the writer (a cleanup job). The spans whose END was in one and
    // whose START is in a segment that stays are written down first (SettledSpans), as for
    // any deletion: else a crash would give them crash records though they had ended. Until
    // that can be done (a full disk) the repair fails, and is tried again.
    const vanished = [...this.segmentBytes.keys()].filter((segment) => !this.unlinker.has(segment) && !existsSync(segmentPath(this.writerDir, segment)));
    if (vanished.length > 0 && !this.settledBeforeRepairDeletes(vanished)) return false;
    // Closed ones held for reading (HeldSegment) are read back as the live one is.
    for (const segment of vanished) {
      const held = this.heldClosed.get(segment);
      if (held === undefined) continue;
      this.heldClosed.delete(segment);
      this.rescues.push(new SegmentRescue(held, segment, this.committedAt?.segment === segment ? this.committedAt.offset : 0));
      this.rescues.sort((a, b) => a.segment - b.segment);
      this.recentEnds.letGo();
    }
    for (const segment of vanished) this.forgetSegment(segment, false);
    // Those segments, and the live one when it is no longer at its path (deleted, replaced,
    // its descriptor swept), may have held the only START of a span still open: such STARTs
    // are carried forward as a committed segment's are, a bounded number per turn, however
    // much of the segment they fill; the live one, where it still is, stays until they are.
    // The others stay where they are, and go as open spans' STARTs do when their segment is
    // committed. A new segment whose head carried every open span's START encoded them all
    // in one turn (508 ms with 50,000 open), and on a full disk did it again at every
    // attempt, once a second, failing each time.
    //
    // Under 'host' the new head carries them all, as before: a START in a segment that
    // was closed unsynced when the journal broke, or whose sync failed, is not known to
    // be on disk, and only copies synced before the old segments go keep the promise. A
    // host that asked for syncs pays the stall on this rare path.
    const carryAll = this.options.durability === 'host';
    if (!carryAll) {
      for (const segment of vanished) this.mustCarry.add(segment);
      if (!closedIntact && this.segmentBytes.has(closedSegment)) this.mustCarry.add(closedSegment);
    }
    this.brokenError = undefined;
    try {
      makeOwnerOnlyDirs(this.writerDir);
      this.relockIfLost();
      this.openNextSegment(0, carryAll);
    } catch (error) {
      this.brokenError ??= error;
    }
    if (this.brokenError !== undefined) {
      this.brokenError = previous;
      return false;
    }
    // Under 'host', once a sync after it has succeeded (syncedAfterRepair).
    if (this.options.durability !== 'host') this.endEpisode();
    // The segments before it go as committed segments do: under 'host' once a group commit
    // begun after the head was written has synced it.
    this.groupCommit?.carriedNow();
    if (allCommitted) this.releaseBelow = Math.max(this.releaseBelow, this.segment);
    this.releaseSegments();
    // In the turns after this one: the repair's own turn carries STARTs already.
    if (this.rescues.length > 0) this.rescueInNextTurn();
    return true;
  }

  /** Whether the export side must wait at `segment`: its records are still being copied forward (SegmentRescue.ts). */
  isRescuing(segment: number): boolean {
    return this.rescues.some((rescue) => rescue.segment === segment);
  }

  /** The export side (JournalTail) says where it has read up to: a rescue copies what it handed out as records of their own. */
  readBy(position: () => JournalPosition): void {
    this.tailPosition = position;
  }

  /**
   * Copies the ENDs and LOGs of removed segments into the live one (SegmentRescue.ts), up
   * to RECORDS_RESCUED_PER_TURN, the rest in the next turns. Not past the cap check: each
   * replaces a record of a segment no longer counted. Broken meanwhile, it goes on after
   * the next repair.
   */
  private rescueRecords(): void {
    clearTimeout(this.rescueTimer);
    this.rescueTimer = undefined;
    let budget = RECORDS_RESCUED_PER_TURN;
    while (budget > 0 && this.rescues.length > 0 && !this.closed && this.brokenError === undefined) {
      const rescue = this.rescues[0];
      const chunk = rescue.read();
      if (chunk === undefined) {
        rescue.close();
        this.rescues.shift();
        continue;
      }
      let copied = 0;
      for (const record of chunk.records) {
        if (budget === 0 || !this.copyRescued(rescue, record)) break;
        budget -= 1;
        copied += 1;
      }
      if (copied === chunk.records.length) rescue.copiedTo(chunk.nextOffset);
    }
    if (this.rescues.length > 0 && !this.closed && this.brokenError === undefined) this.rescueInNextTurn();
  }

  private rescueInNextTurn(): void {
    clearTimeout(this.rescueTimer);
    this.rescueTimer = setTimeout(() => this.rescueRecords(), 0);
    this.rescueTimer.unref();
  }

  /**
   * One record of a removed segment, written again. The export side reads the copy in
   * place of the original it could not read (its count moves with it), or, had it handed
   * out the original already (a batch being exported or retried), as a record of its own:
   * both commit as the same row (the exporter's upserts; a LOG keeps its sequence number).
   */
  private copyRescued(rescue: SegmentRescue, record: RescuedRecord): boolean {
    const resourceId = typeof record.r === 'number' && this.resources.has(record.r) ? record.r : undefined;
    if (!this.writeRecord(record.type, record.json, resourceId)) return false;
    if (!rescue.handedOut(record.end, this.tailPosition())) this.exportsBySegment.set(rescue.segment, (this.exportsBySegment.get(rescue.segment) ?? 0) - 1);
    else if (record.type === RecordType.SpanEnd) this.endsWritten += 1;
    else this.logsWritten += 1;
    this.exportRecordWritten(undefined, undefined, record.json.length);
    rescue.copiedTo(record.end);
    return true;
  }

  /**
   * Before a repair deletes `segments` at once, or forgets those removed under it: the spans
   * whose ENDs they hold are written down for the segments that stay, synced under 'host'
   * (see deleteSegments). False when they could not be: a segment to delete stays.
   */
  private settledBeforeRepairDeletes(segments: readonly number[]): boolean {
    const { written, error } = this.persistSettled(
      [...this.segmentBytes.keys()].filter((other) => !segments.includes(other)),
      segments,
    );
    if (error !== undefined) return false;
    try {
      if (this.options.durability === 'host') this.settled.syncNow(written);
    } catch {
      return false;
    }
    return true;
  }

  /** SettledSpans.persistBefore, its side files' bytes counted against maxJournalBytes. */
  private persistSettled(kept: Iterable<number>, deleting: readonly number[]): ReturnType<SettledSpans['persistBefore']> {
    const bytesBefore = this.settled.bytes;
    const result = this.settled.persistBefore(kept, deleting);
    this.liveBytes += this.settled.bytes - bytesBefore;
    return result;
  }

  private forgetSegment(segment: number, unlink: boolean): void {
    this.heldClosed.get(segment)?.close();
    this.heldClosed.delete(segment);
    this.resources.segmentsLeaving([segment]);
    if (unlink) {
      try {
        unlinkSync(segmentPath(this.writerDir, segment));
      } catch {
        // Gone already: the accounting below is what matters.
      }
    }
    this.liveBytes -= this.segmentBytes.get(segment) ?? 0;
    this.segmentBytes.delete(segment);
    this.carrying.delete(segment);
    this.liveBytes -= this.settled.forget(segment);
  }

  /**
   * Writes what waits, syncs if durability asks for it, closes, and removes the journal if
   * nothing in it is still needed (then unsynced: nothing in it will be read). Under
   * 'host', `syncHere: false` (shutdown()'s deadline passed) leaves what is not yet synced
   * to the thread pool instead of syncing it on the application's thread, and says so.
   */
  close(options: { removeIfDone: boolean; syncHere?: boolean }): void {
    this.closed = true;
    const removing = options.removeIfDone && this.openSpans.size === 0;
    clearTimeout(this.releaseTimer);
    clearTimeout(this.rescueTimer);
    // What was not copied yet is counted lost by the export side, as records it cannot read back.
    for (const rescue of this.rescues.splice(0)) rescue.close();
    for (const held of this.heldClosed.values()) held.close();
    this.heldClosed.clear();
    clearTimeout(this.longOpenTimer);
    this.longOpen?.close();
    const syncing = removing ? undefined : this.groupCommit;
    const last = this.appender;
    if (syncing !== undefined && options.syncHere !== false) {
      if (!syncing.hasSynced(last)) this.syncNow();
      syncing.syncRotatedNow();
    }
    this.spare.clear();
    this.closeAppender();
    this.groupCommit?.writerClosed();
    const files = syncing !== undefined && options.syncHere === false ? syncing.leaveToPool(last) : 0;
    if (files > 0) {
      safeDiag.warn(
        `otel-blackbox: journal ${this.writerDir}: shutdown could not wait for its last records to be synced (its deadline passed, or records kept coming); ` +
          `${files} segment${files === 1 ? ' is' : 's are'} left to the thread pool, synced if the process lives on (in the page cache meanwhile: safe from this process's end, not from a power loss)`,
      );
    }
    // Deletions still queued stay undone (and counted): the lock goes below, and a recovery
    // may read the directory next. Left, they are committed segments, which it passes over.
    this.unlinker.takeAll();
    if (removing) {
      removeWhole(this.writerDir);
      this.segmentBytes.clear();
      this.liveBytes = 0;
    }
    // This writer writes no more: a journal left on disk (spans still open, records not
    // committed) is recovered now, by this process's next recovery or another's, not only
    // once this process has exited.
    this.lock?.release();
    this.lock = undefined;
    this.lockToRetake = false;
  }

  /**
   * A lock file removed under the writer (a cleanup job, with its directory or alone) or
   * replaced by an unlocked copy (the directory moved to another disk): the lock held is on
   * a file no judge can ask, and a judge in another pid namespace, or one that finds the
   * copy free, would take this live writer for dead. Taken again on a new file, at the
   * next maintain() (every second) and before a repair's header (or, failing that, the
   * header says there is none).
   */
  private relockIfLost(): void {
    if (this.lock === undefined) {
      if (this.lockToRetake) this.takeLock();
      return;
    }
    // Its descriptor closed by the application, the lock is gone, and judges find the file free.
    const held = this.lock.isHeld();
    if (held && this.lock.isAtItsPath()) return;
    if (held) this.lock.release();
    this.takeLock();
  }

  /**
   * A take that failed is tried again (relockIfLost), said once: given up after a moment's
   * EMFILE, a lost lock left its unlocked copy in place for good, and judges took this live
   * writer for dead.
   */
  private takeLock(): void {
    const taken = holdWriterLock(this.writerDir, !this.lockToRetake);
    this.lock = typeof taken === 'object' ? taken : undefined;
    if (this.lock !== undefined && this.lockToRetake) safeDiag.warn(`otel-blackbox: journal ${this.writerDir} now holds its writer lock`);
    this.lockToRetake = taken === 'failed';
  }

  /**
   * Under 'host', resolves once every record written so far is synced, on the thread pool
   * (true), or once it gives up (false: GroupCommit.whenIdle): shutdown() waits for it
   * (within its deadline) so that close() has nothing left to sync on the application's thread.
   */
  whenSynced(): Promise<boolean> {
    return this.groupCommit?.whenIdle() ?? Promise.resolve(true);
  }

  syncNow(): void {
    try {
      this.appender?.syncDataNow();
    } catch (error) {
      this.fail(error);
    }
  }

  /** What the RESOURCE record a record names adds where the current segment does not hold it yet. */
  private resourceRecordChars(resourceId: number | undefined): number {
    const json = this.resources.recordFor(resourceId, this.segment);
    return json === undefined ? 0 : FRAME_HEADER_BYTES + json.length;
  }

  private overCap(recordChars: number): boolean {
    return this.liveBytes + FRAME_HEADER_BYTES + recordChars > this.options.maxJournalBytes;
  }

  /** The resource a record's id stands for: the application's own object, or one made again from its record. */
  resourceById(id: number): Resource {
    return this.resources.byId(id);
  }

  /** Resources the writer knows (the application's, or remembered for records on disk): for tests. */
  get resourcesKnown(): number {
    return this.resources.size;
  }

  /** Of those, the ones whose RESOURCE record's text is kept in memory: for tests. */
  get resourceTextsKept(): number {
    return this.resources.textsKept;
  }

  private resourceIdFor(resource: Resource): number {
    return this.resources.idFor(resource, this.resourceSettled);
  }

  /** A resource's asynchronous attributes settled: its record is written again, readers keep the last. */
  private readonly resourceSettled = (id: number, json: string): void => {
    if (this.writeRecord(RecordType.Resource, json)) this.resources.writtenIn(id, this.writtenSegment);
  };

  private header(): SegmentHeader {
    const { identity, heartbeatIntervalMs } = this.options;
    const header: SegmentHeader = { v: 1, ...identity, segment: this.segment, createdMs: Date.now(), heartbeatIntervalMs };
    if (this.lock !== undefined) header.writerLock = true;
    if (this.options.destination !== undefined) header.destination = this.options.destination;
    else if (this.options.noDestination !== undefined) header.noDestination = this.options.noDestination;
    return header;
  }

  /** Closes the current segment (under 'host', synced on the thread pool: GroupCommit.closeRotated) and opens the next. */
  private rotate(nextWriteBytes = 0): void {
    if (this.appender !== undefined && this.removedAtRotation(this.appender)) {
      // Written on past its room (the write(2) path has no end, a mapped one its crossing
      // room): a record that does not fit breaks the journal until the repair.
      if (nextWriteBytes > 0) this.fail(new Error(`segment ${this.appender.path} was deleted or replaced (by a cleanup job, or a move of the journal directory)`));
      return;
    }
    this.holdForRescue(this.appender);
    this.closeAppender('rotated');
    this.openNextSegment(nextWriteBytes);
  }

  /**
   * Whether the live segment, due to rotate, was removed under the writer: looked at once
   * per segment (a stat), when it is due. Not rotated then: closed, the records in it not
   * yet committed went with the unlinked file, and the next segment could not be made (its
   * directory gone) or was the spare, made in the removed directory before. Written on
   * until the repair, asked for in the next turn (not at the next maintain(), a second
   * away), reads them back through the descriptor (SegmentRescue.ts). A descriptor the
   * application closed (a sweep) is not written on: its number may name a file of its own.
   */
  private removedAtRotation(appender: SegmentFile): boolean {
    if (this.removedSegment === this.segment) return true;
    if (appender.isAtItsPath()) return false;
    if (!appender.descriptorIsItsOwn()) {
      this.fail(descriptorLostError(appender.path));
      return true;
    }
    this.removedSegment = this.segment;
    const repair = setTimeout(() => {
      if (!this.closed) this.maintain();
    }, 0);
    repair.unref();
    return true;
  }

  /**
   * Opens the segment about to be closed for reading while it holds ENDs or LOGs not
   * committed, up to SEGMENTS_HELD_FOR_RESCUE (an open(2) a rotation; closed at the commit
   * that passes it, before it is deleted: a held descriptor keeps a deleted file's blocks).
   * Removed under the writer, its records are read back from it (SegmentRescue.ts).
   */
  private holdForRescue(appender: SegmentFile | undefined): void {
    if (appender === undefined || (this.exportsBySegment.get(this.segment) ?? 0) === 0 || this.heldClosed.size >= SEGMENTS_HELD_FOR_RESCUE) return;
    if (this.committedAt !== undefined && isAtOrAfter(this.committedAt, { segment: this.exportedSegment, offset: this.exportedEnd })) return;
    const held = HeldSegment.open(segmentPath(this.writerDir, this.segment), appender.bytes);
    if (held !== undefined) this.heldClosed.set(this.segment, held);
  }

  /**
   * Closes the current segment, its size on disk now final for the maxJournalBytes cap.
   * 'rotated': under 'host', synced; 'atExit': what close() leaves to the pool done now;
   * 'kept': left open, for a rescue to read back (SegmentRescue.ts).
   */
  private closeAppender(how: 'plain' | 'rotated' | 'atExit' | 'kept' = 'plain'): void {
    const appender = this.appender;
    if (appender === undefined) return;
    this.segmentBytes.set(this.segment, appender.bytes);
    if (how === 'kept') {
      // Closed by the rescue once its records are copied.
    } else if (how === 'rotated' && this.groupCommit !== undefined) this.groupCommit.closeRotated(appender, this.segment);
    else if (how === 'atExit') appender.closeAtExit();
    else appender.close();
    this.appender = undefined;
  }

  private openNextSegment(nextWriteBytes = 0, carryOpenSpans = false): void {
    this.segment += 1;
    const head = this.segmentHead(carryOpenSpans);
    try {
      this.appender = this.spare.take(segmentPath(this.writerDir, this.segment), this.segmentCapacity(head.length, nextWriteBytes)) ?? this.openSegment(head, nextWriteBytes);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.startSegment(head);
    if (this.brokenError !== undefined) {
      // Its head could not be written (a full disk): remove it rather than leave an empty
      // file behind at every attempt.
      this.closeAppender();
      this.forgetSegment(this.segment, true);
      return;
    }
    // Only now is the head, with a START of every span still open, in the file: marked
    // before, a commit could delete the segments that hold them while it may never be.
    if (carryOpenSpans) this.openSpans.remark(() => this.segment);
  }

  /** Bytes of records segment number `segment` takes before the writer rotates (FIRST_SEGMENT_RECORD_BYTES). */
  private recordRoom(segment: number): number {
    const first = this.options.firstSegmentBytes ?? FIRST_SEGMENT_RECORD_BYTES;
    return Math.min(this.options.maxSegmentBytes, first * 2 ** Math.min(Math.max(segment - 1, 0), 16));
  }

  /** Room for the head, the segment's records (recordRoom), and the write that crosses that mark (or a larger one). */
  private segmentCapacity(headBytes: number, nextWriteBytes = 0, segment = this.segment): number {
    return headBytes + this.recordRoom(segment) + Math.max(nextWriteBytes, CROSSING_RECORD_BYTES);
  }

  private openSegment(head: Buffer, nextWriteBytes = 0): SegmentFile {
    const fs = this.options.fs ?? (this.exiting ? realFileSystem : undefined);
    return openSegmentFile(segmentPath(this.writerDir, this.segment), { preallocateBytes: this.segmentCapacity(head.length, nextWriteBytes), fs });
  }

  /** Halfway through a mapped segment: the next one, with room for a head as large as this one's plus a margin. */
  private prepareSpare(): void {
    const next = this.segment + 1;
    this.spare.prepareSoon(next, segmentPath(this.writerDir, next), this.segmentCapacity(this.headBytes + SPARE_HEAD_MARGIN_BYTES, 0, next));
  }

  /**
   * A new segment's head: magic, header, and after a repair under 'host' the spans still
   * open, each after the RESOURCE it names. Other records bring their RESOURCE with them
   * (appendNaming).
   */
  private segmentHead(carryOpenSpans = false): Buffer {
    const frames = [SEGMENT_MAGIC, encodeFrame(RecordType.SegmentHeader, JSON.stringify(this.header()))];
    if (carryOpenSpans) {
      for (const start of this.openSpans.values()) {
        const { json, resourceId } = this.startNow(start);
        const resource = this.resources.recordFor(resourceId, this.segment);
        if (resource !== undefined) {
          frames.push(encodeFrame(RecordType.Resource, resource));
          this.resources.writtenIn(resourceId!, this.segment);
        }
        frames.push(encodeFrame(RecordType.SpanStart, json));
      }
    }
    return Buffer.concat(frames);
  }

  private startSegment(head: Buffer): void {
    this.segmentBytes.set(this.segment, 0);
    this.writeHead(head);
    this.headBytes = this.appender?.bytes ?? 0;
    this.segmentRoom = this.recordRoom(this.segment);
    this.groupCommit?.syncDirectory();
  }

  private writeHead(head: Buffer): void {
    const appender = this.appender;
    if (!appender || this.brokenError !== undefined) return;
    try {
      // The segment was opened with room for its head.
      if (appender.append(head) === 'no-room') throw new Error(`journal segment ${appender.path} has no room for its ${head.length}-byte head`);
    } catch (error) {
      this.fail(error);
      return;
    }
    this.liveBytes += head.length;
    this.bytesWritten += head.length;
    this.groupCommit?.schedule();
  }

  private fail(error: unknown): void {
    if (this.brokenError !== undefined) return;
    const afterUnsyncedRepair = this.repairedUnsynced;
    this.brokenError = error;
    if (afterUnsyncedRepair) {
      this.syncFailuresAfterRepair += 1;
      // The monotonic clock: a wall clock stepped back would hold repairs past the longest pause.
      this.repairNotBefore = performance.now() + Math.min(MAX_REPAIR_PAUSE_MILLIS, 1000 * 2 ** (this.syncFailuresAfterRepair - 1));
    }
    // On a full disk its preallocated blocks are room the repair may need.
    this.spare.clear();
    if (this.episodeReported) return;
    this.episodeReported = true;
    // Said once the writer's own call is done: a diag logger of the application's may
    // start or end spans, and must not find the open spans' table half-visited.
    const message =
      `otel-blackbox: journal ${this.writerDir} cannot be written (${(error as Error)?.message ?? error}); ` +
      'spans are exported from memory until it can be written again';
    queueMicrotask(() => safeDiag.error(message));
  }
}
