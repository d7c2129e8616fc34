// Reads a dead writer's journal in bounded memory, in two streaming passes over its
// segments (chunks of 64 KiB, awaiting between them so a host's event loop keeps running):
//
// 1. Facts: the header, resources, heartbeats, exit, the highest COMMIT watermark, and
//    which spans are still open at the end, kept as span id -> position of the START's
//    latest copy. Span records are not parsed here: the span id sits at a fixed place at
//    the start of their JSON. Memory: one number per span open at the same time.
// 2. Spans, in journal order from the earlier of the watermark and the first open START:
//    every END and LOG past the watermark, and every open START at its recorded position,
//    are handed out in journal order, in small groups as they are read: LOGs parsed, span
//    records as their bytes (recovery parses them when its exporter needs the spans).
//
// The watermark is needed before the first END can be judged and may be written long
// after it (a COMMIT lands after the batch it covers), hence the first pass. It is the
// later of the writer's highest COMMIT and the position an earlier recovery of this
// journal reached before it was stopped (RecoveryProgress.ts). Reading never throws on
// damage; what was skipped is counted.
import type { HrTime } from '@opentelemetry/api';
import { safeDiag } from '../safeDiag.js';
import { readdir, stat } from '../untracedFsPromises.js';
import { parseSegmentFileName, segmentPath, settledFileName, settledPath } from '../journal/journalPaths.js';
import { isAtOrAfter, laterOf } from '../journal/JournalPosition.js';
import type { JournalPosition } from '../journal/JournalPosition.js';
import { RecordType } from '../journal/recordTypes.js';
import type {
  CommitRecord,
  HeartbeatRecord,
  LogRecordPayload,
  ProcessExitRecord,
  ResourceRecord,
  SegmentHeader,
  SettledRecord,
  SpanEndRecord,
  SpanStartRecord,
} from '../journal/recordTypes.js';
import { DEFAULT_CHUNK_BYTES, readSegmentFile, type SegmentChunk } from '../journal/SegmentFileReader.js';
import type { JournalRecord } from '../journal/readSegment.js';
import { spanKey, spanKeyOfRecord } from '../journal/spanRecords.js';
import { readRecoveryProgress } from './RecoveryProgress.js';
import type { ResourcePlace } from './ResourcesOnDisk.js';


export interface JournalFacts {
  dir: string;
  header: SegmentHeader | undefined;
  /** Where each resource's RESOURCE record is (the last read), for ResourcesOnDisk: never the resources themselves. */
  resources: Map<number, ResourcePlace>;
  exit: ProcessExitRecord | undefined;
  lastHeartbeatMs: number | undefined;
  /**
   * Set when the writer's clock was ahead of this host's: its last heartbeat (or sign of
   * life) was dated later than now, and the two times above were brought back to now.
   */
  clockAhead: { datedMs: number; recoveredAtMs: number } | undefined;
  /** The latest moment the writer is known to have been alive. */
  lastSignOfLifeMs: number;
  /**
   * Every SPAN_END and LOG before this position was committed: by the writer's own export
   * (its highest COMMIT), or by an earlier recovery that was stopped (its progress file).
   */
  watermark: JournalPosition | undefined;
  /** Spans that started and never ended: spanKey (trace id and span id) -> where the latest copy of their START is. */
  openStarts: Map<string, JournalPosition>;
  segments: number[];
  damagedBytes: number;
  tornBytes: number;
}

/**
 * A record pass 2 hands out: an END or LOG past the watermark (with the position just
 * past it: once it is committed, the watermark may move there), or an open START. Span
 * records come as their payload's bytes: a view into the chunk read, which is reused for
 * the next group (copy to keep).
 */
export type RecoverableRecord =
  | { kind: 'end'; bytes: Buffer; after: JournalPosition }
  /** `record` null: its checksum held but its JSON does not parse (a writer's bug), to be said, not dropped silently. */
  | { kind: 'log'; record: LogRecordPayload | null; after: JournalPosition; bytes: number }
  | { kind: 'open'; bytes: Buffer };

/** A group of records read in pass 2, in journal order, and where in the journal reading stopped. */
export interface RecoveredSpans {
  records: RecoverableRecord[];
  until: JournalPosition;
}

/** What pass 1 parses: small records that are rare (span records are only located). */
const factTypes = (type: number): boolean => type !== RecordType.SpanStart && type !== RecordType.SpanEnd && type !== RecordType.LogRecord;
const parseNone = (): boolean => false;

function hrTimeToMs(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

/** An END at `at` is committed when the highest COMMIT watermark is at or after it. */
export function isCommitted(at: JournalPosition, watermark: JournalPosition | undefined): boolean {
  return watermark !== undefined && isAtOrAfter(watermark, at);
}

function segmentNumbers(names: readonly string[]): number[] {
  return names
    .map(parseSegmentFileName)
    .filter((segment): segment is number => segment !== undefined)
    .sort((a, b) => a - b);
}

/** Pass 1. */
export async function readJournalFacts(dir: string, signal?: AbortSignal): Promise<JournalFacts> {
  const names = await readdir(dir);
  const facts: JournalFacts = {
    dir,
    header: undefined,
    resources: new Map(),
    exit: undefined,
    lastHeartbeatMs: undefined,
    clockAhead: undefined,
    lastSignOfLifeMs: 0,
    watermark: undefined,
    openStarts: new Map(),
    segments: segmentNumbers(names),
    damagedBytes: 0,
    tornBytes: 0,
  };
  const alive = (ms: number): void => {
    if (ms > facts.lastSignOfLifeMs) facts.lastSignOfLifeMs = ms;
  };
  // The last span record read: its start or end time is a sign of life (parsed once, at the end).
  let lastSpanRecord: { type: number; bytes: Buffer } | undefined;
  const segmentBytes = new Map<number, number>();
  const readBuffer = Buffer.allocUnsafe(DEFAULT_CHUNK_BYTES);
  // A torn tail is the normal end of a crash in the segment the writer was writing: later
  // ones then hold no record (the spare made ahead holds none). One followed by records is
  // a segment cut short (damage, a copy cut off; or a write that failed for a full disk
  // before a repair): what it held past the cut is lost, and said as damage. Before, it
  // was counted as a crash's torn tail: 231 spans lost to a cut, nothing said (an attack).
  let tornBeforeRecords = 0;
  let tornPending = 0;
  for (const segment of facts.segments) {
    const path = segmentPath(dir, segment);
    const { mtimeMs, size } = await stat(path);
    alive(mtimeMs);
    segmentBytes.set(segment, size);
    const unreadable = (readTo: number, code: string): void => {
      facts.damagedBytes += Math.max(0, size - readTo);
      safeDiag.error(`otel-blackbox: journal segment ${path} cannot be read past byte ${readTo} (${code}); the records there are lost`);
    };
    for await (const chunk of damageTolerant(readSegmentFile(path, { parse: factTypes, into: readBuffer }), unreadable)) {
      stopIfAborted(signal);
      facts.damagedBytes += chunk.damaged.reduce((sum, range) => sum + range.length, 0);
      if (chunk.records.length > 0 && tornPending > 0) {
        tornBeforeRecords += tornPending;
        tornPending = 0;
      }
      tornPending += chunk.tornTailBytes;
      let lastInChunk: JournalRecord | undefined;
      for (const record of chunk.records) {
        if (record.type === RecordType.SpanStart) {
          const key = spanKeyOfRecord(record.bytes);
          if (key !== undefined) facts.openStarts.set(key, { segment, offset: record.offset });
          lastInChunk = record;
        } else if (record.type === RecordType.SpanEnd) {
          const key = spanKeyOfRecord(record.bytes);
          if (key !== undefined) facts.openStarts.delete(key);
          lastInChunk = record;
        } else if (record.type === RecordType.LogRecord) {
          // A log line right before a SIGKILL is the last sign of life a crash record can get.
          lastInChunk = record;
        } else if (!takeFact(facts, record, alive, { segment, offset: record.offset })) {
          // Its checksum held, but its shape is not this record type's (a writer's bug): damage,
          // said with the rest, not a failure of the whole journal at every scan.
          facts.damagedBytes += record.end - record.offset;
        }
      }
      if (lastInChunk) lastSpanRecord = { type: lastInChunk.type, bytes: Buffer.from(lastInChunk.bytes) };
    }
  }
  facts.tornBytes += tornPending;
  facts.damagedBytes += tornBeforeRecords;
  await takeSettledSpans(facts, new Set(names), readBuffer, signal);
  if (lastSpanRecord) {
    try {
      const record = JSON.parse(lastSpanRecord.bytes.toString('utf8')) as SpanEndRecord & Partial<LogRecordPayload>;
      // A log record's observed time is when the SDK took it, unless the application set it
      // too; its timestamp is the application's alone, and may be hours back (an event's own
      // time): taken alone, a crash record ended before the lines logged in its span (review D2).
      const times = lastSpanRecord.type === RecordType.LogRecord ? [record.o, record.t] : [lastSpanRecord.type === RecordType.SpanEnd && record.et ? record.et : record.st];
      for (const time of times) {
        // The application may have chosen this time: one in the future says nothing of when
        // the writer lived, and would date crash records there or make a dead journal on a
        // shared volume look alive for years.
        if (!Array.isArray(time)) continue;
        const ms = hrTimeToMs(time as HrTime);
        if (Number.isFinite(ms) && ms <= Date.now()) alive(ms);
      }
    } catch {
      // Its checksum held, so this cannot happen; the segment times still count.
    }
  }
  // A writer's clock that was ahead (then stepped back) dated its heartbeats and commits in
  // the future: its crash records must not end there. The process is dead by now.
  const now = Date.now();
  const datedMs = facts.lastHeartbeatMs ?? facts.lastSignOfLifeMs;
  if (datedMs > now) facts.clockAhead = { datedMs, recoveredAtMs: now };
  facts.lastSignOfLifeMs = Math.min(facts.lastSignOfLifeMs, now);
  if (facts.lastHeartbeatMs !== undefined) facts.lastHeartbeatMs = Math.min(facts.lastHeartbeatMs, now);
  const progress = await readRecoveryProgress(dir, segmentBytes);
  facts.watermark = laterOf(facts.watermark, progress);
  return facts;
}

/**
 * The side files of segments kept for the STARTs of spans still open: the spans of each
 * that ended, whose ENDs went with later segments (SettledSpans.ts), are not open. Read
 * after every segment, so the latest copy of each START is known.
 */
async function takeSettledSpans(facts: JournalFacts, names: ReadonlySet<string>, readBuffer: Buffer, signal: AbortSignal | undefined): Promise<void> {
  for (const segment of facts.segments) {
    if (!names.has(settledFileName(segment))) continue;
    const path = settledPath(facts.dir, segment);
    const unreadable = (readTo: number, code: string): void => {
      safeDiag.error(`otel-blackbox: journal file ${path} cannot be read past byte ${readTo} (${code}); spans it says ended may get crash records`);
    };
    const chunks = readSegmentFile(path, { parse: (type) => type === RecordType.SpansSettled, into: readBuffer });
    for await (const chunk of damageTolerant(chunks, unreadable)) {
      stopIfAborted(signal);
      facts.damagedBytes += chunk.damaged.reduce((sum, range) => sum + range.length, 0);
      for (const record of chunk.records) {
        if (record.type !== RecordType.SpansSettled || !takeSettled(facts, segment, record.payload)) facts.damagedBytes += record.end - record.offset;
      }
    }
  }
}

/** One SETTLED record of `segment`'s side file taken into `facts`; false when it is not of that shape. */
function takeSettled(facts: JournalFacts, segment: number, payload: unknown): boolean {
  const { k, e } = (payload ?? {}) as Partial<SettledRecord>;
  if (k !== segment || !Array.isArray(e) || e.length % 2 !== 0 || !e.every((id) => typeof id === 'string')) return false;
  for (let i = 0; i < e.length; i += 2) {
    const key = spanKey(e[i]!, e[i + 1]!);
    // Only the START in that segment: a later copy of it would be a span started again.
    if (facts.openStarts.get(key)?.segment === segment) facts.openStarts.delete(key);
  }
  return true;
}

/** A fact record taken into `facts`; false when its payload is not of its type's shape (nothing is taken). */
function takeFact(facts: JournalFacts, record: JournalRecord, alive: (ms: number) => void, at: JournalPosition): boolean {
  const payload: unknown = record.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return false;
  const field = (name: string): unknown => (payload as Record<string, unknown>)[name];
  switch (record.type) {
    case RecordType.SegmentHeader: {
      if (!isFiniteNumber(field('createdMs'))) return false;
      const header = payload as SegmentHeader;
      facts.header ??= header;
      alive(header.createdMs);
      break;
    }
    case RecordType.Resource: {
      const ab = field('ab');
      const attributes = field('a');
      if (!isFiniteNumber(field('id')) || (ab !== undefined && !Array.isArray(ab)) || (attributes !== undefined && (attributes === null || typeof attributes !== 'object'))) return false;
      facts.resources.set((payload as ResourceRecord).id, { segment: at.segment, offset: record.offset, end: record.end });
      break;
    }
    case RecordType.Heartbeat: {
      if (!isFiniteNumber(field('ms'))) return false;
      const beat = payload as HeartbeatRecord;
      facts.lastHeartbeatMs = Math.max(facts.lastHeartbeatMs ?? 0, beat.ms);
      // An exit record the process wrote heartbeats after is not how it ended: an uncaught
      // exception is recorded when seen, and an application with its own handler goes on.
      facts.exit = undefined;
      alive(beat.ms);
      break;
    }
    case RecordType.ProcessExit: {
      if (!isFiniteNumber(field('ms'))) return false;
      const exit = payload as ProcessExitRecord;
      // An uncaught exception is followed by the exit it causes: keep the error (a heartbeat
      // between them has already forgotten it).
      facts.exit = { ...facts.exit, ...exit, error: exit.error ?? facts.exit?.error, code: exit.code ?? facts.exit?.code };
      alive(exit.ms);
      break;
    }
    case RecordType.Commit: {
      if (!isFiniteNumber(field('ms')) || !Number.isSafeInteger(field('segment')) || !Number.isSafeInteger(field('offset'))) return false;
      const commit = payload as CommitRecord;
      const upTo = { segment: commit.segment, offset: commit.offset };
      // A commit is written after what it covers: one that names a place past itself is not
      // the writer's (damage, a segment spliced in from another journal, an attack), and
      // taken, it passed every END and log record after it over unsaid.
      if (!isAtOrAfter(at, upTo)) return false;
      facts.watermark = laterOf(facts.watermark, upTo);
      alive(commit.ms);
      break;
    }
  }
  return true;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Errors of a disk that cannot give back what it holds: the rest of the segment is damage,
 * counted, and reading goes on with the next one, as for a damaged record (a bad sector
 * must not keep every other segment's spans from being recovered, at every scan); so is a
 * "segment" that is no regular file (ENOTREG, regularFile.ts: a FIFO, a device). Other
 * errors (too many open files, a permission) may pass: they end this recovery, to be
 * tried again.
 */
const UNREADABLE_SEGMENT_ERRORS = new Set(['EIO', 'EISDIR', 'ENXIO', 'ENOTREG']);

/** `chunks`, ended early when the segment cannot be read past `readTo` (then `unreadable` is told). */
async function* damageTolerant(chunks: AsyncIterable<SegmentChunk>, unreadable: (readTo: number, code: string) => void): AsyncGenerator<SegmentChunk> {
  let readTo = 0;
  try {
    for await (const chunk of chunks) {
      readTo = chunk.nextOffset;
      yield chunk;
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException)?.code;
    if (code === undefined || !UNREADABLE_SEGMENT_ERRORS.has(code)) throw error;
    unreadable(readTo, code);
  }
}

/**
 * Throws once `signal` aborts (the processor's shutdown deadline, the CLI's SIGINT): a
 * recovery stops within a chunk in either pass, not only between its exports. Pass 1
 * alone reads the whole journal, seconds for a large one, past any shutdown deadline.
 */
function stopIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error('recovery stopped: its signal aborted (the process is stopping)');
}

/** Where pass 2 starts: nothing before it is exported. */
function firstNeeded(facts: JournalFacts): JournalPosition {
  let from: JournalPosition = facts.watermark ?? { segment: 0, offset: 0 };
  for (const position of facts.openStarts.values()) if (!isAtOrAfter(position, from)) from = position;
  return from;
}

/**
 * Pass 2: the records to export, a chunk's worth at a time, from the earlier of the
 * watermark and the first open START (an interrupted recovery resumes through the
 * watermark: see RecoveryProgress.ts). Only the current chunk and the group handed out
 * are in memory.
 */
export async function* readRecoverableSpans(facts: JournalFacts, signal?: AbortSignal): AsyncGenerator<RecoveredSpans> {
  const from = firstNeeded(facts);
  const readBuffer = Buffer.allocUnsafe(DEFAULT_CHUNK_BYTES);
  for (const segment of facts.segments) {
    if (segment < from.segment) continue;
    const start = segment === from.segment ? from.offset : 0;
    // The caller is done with a group (it copies what it keeps) before it asks for the next.
    // Damage was counted and said in pass 1; the rest of an unreadable segment is passed over again.
    for await (const chunk of damageTolerant(readSegmentFile(segmentPath(facts.dir, segment), { from: start, parse: parseNone, into: readBuffer }), () => {})) {
      stopIfAborted(signal);
      const records: RecoverableRecord[] = [];
      for (const record of chunk.records) {
        if (record.type === RecordType.LogRecord || record.type === RecordType.SpanEnd) {
          // A COMMIT covers the LOG records before it as it covers the ENDs (JournalTail).
          const after = { segment, offset: record.end };
          if (isCommitted(after, facts.watermark)) continue;
          if (record.type === RecordType.LogRecord) {
            records.push({ kind: 'log', record: parseRecord<LogRecordPayload>(record.bytes) ?? null, after, bytes: record.bytes.length });
          } else {
            records.push({ kind: 'end', bytes: record.bytes, after });
          }
        } else if (record.type === RecordType.SpanStart) {
          const key = spanKeyOfRecord(record.bytes);
          const latest = key === undefined ? undefined : facts.openStarts.get(key);
          if (latest === undefined || latest.segment !== segment || latest.offset !== record.offset) continue;
          records.push({ kind: 'open', bytes: record.bytes });
        }
      }
      if (records.length > 0 || chunk.done) yield { records, until: { segment, offset: chunk.nextOffset } };
    }
  }
}

/** A record's payload parsed, or undefined when it does not parse. */
function parseRecord<T>(bytes: Buffer): T | undefined {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch {
    // The checksum held, so the writer wrote it this way; nothing to recover from it.
    return undefined;
  }
}

/** Sugar for tests and small journals: both passes, everything in memory. */
export async function readWriterJournal(dir: string): Promise<JournalFacts & { uncommittedEnds: Map<string, SpanEndRecord>; openStartRecords: Map<string, SpanStartRecord> }> {
  const facts = await readJournalFacts(dir);
  const uncommittedEnds = new Map<string, SpanEndRecord>();
  const openStartRecords = new Map<string, SpanStartRecord>();
  for await (const group of readRecoverableSpans(facts)) {
    for (const item of group.records) {
      if (item.kind === 'end') {
        const end = parseRecord<SpanEndRecord>(item.bytes);
        if (end) uncommittedEnds.set(spanKey(end.t, end.s), end);
      } else if (item.kind === 'open') {
        const start = parseRecord<SpanStartRecord>(item.bytes);
        if (start) openStartRecords.set(spanKey(start.t, start.s), start);
      }
    }
  }
  return { ...facts, uncommittedEnds, openStartRecords };
}
