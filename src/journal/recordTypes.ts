// The kinds of record a journal segment holds, and what each payload carries. Payloads
// are JSON; field names are short because a START record is written on the caller's
// thread for every sampled span.
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { BytesPath } from './attributeValues.js';
import type { WriterIdentity } from './writerIdentity.js';

export const enum RecordType {
  SegmentHeader = 1,
  Resource = 2,
  SpanStart = 3,
  SpanEnd = 4,
  Heartbeat = 5,
  ProcessExit = 6,
  Commit = 7,
  /** A log record (logRecords.ts). */
  LogRecord = 8,
  /** Spans of a segment kept for its open STARTs that have ended since (SettledRecord): in that segment's side file only. */
  SpansSettled = 9,
}

export const RECORD_TYPE_NAMES: Record<number, string> = {
  1: 'SEGMENT_HEADER',
  2: 'RESOURCE',
  3: 'SPAN_START',
  4: 'SPAN_END',
  5: 'HEARTBEAT',
  6: 'PROCESS_EXIT',
  7: 'COMMIT',
  8: 'LOG',
  9: 'SETTLED',
};

/** Who wrote a segment: enough to decide later whether that writer is still alive. */
export interface SegmentHeader extends WriterIdentity {
  v: 1;
  segment: number;
  createdMs: number;
  heartbeatIntervalMs: number;
  /** The writer holds the flock of its directory's writer.lock while it lives (livenessLocks.ts). */
  writerLock?: true;
  /** Where its spans were exported (PostgresSpanExporter.destination): recovery sends them nowhere else. */
  destination?: string;
  /**
   * The class of its exporter, which names no destination (OTLP, a file): a recovery that
   * exports to a named destination leaves it alone. Not in headers of earlier versions.
   */
  noDestination?: string;
}

export interface ScopeRecord {
  n: string;
  v?: string;
  u?: string;
  /** A logger's scope attributes (sdk-logs 3.x `getLogger(name, version, { attributes })`), when it has any; `ab` their bytes. */
  a?: Attributes;
  ab?: BytesPath[];
}

/** Written by onStart: what is known when a span starts. `r` names its resource record. */
export interface SpanStartRecord {
  t: string;
  s: string;
  p?: string;
  pr?: 1;
  ts?: string;
  f: number;
  n: string;
  k: number;
  st: HrTime;
  a: Attributes;
  /** Where `a` holds bytes as base64 text (attributeValues.ts); absent when nowhere. */
  ab?: BytesPath[];
  sc: ScopeRecord;
  r: number;
  /** Links given at the start, and the counts the span limits dropped by then: only when there are any (a crash record has nothing else to go by). */
  l?: LinkRecord[];
  da?: number;
  dl?: number;
}

export interface EventRecord {
  n: string;
  t: HrTime;
  a?: Attributes;
  ab?: BytesPath[];
  d?: number;
}

export interface LinkRecord {
  t: string;
  s: string;
  f: number;
  /** 1 when the linked context is remote, 0 when not; absent in records written before it, read as remote. */
  rm?: 0 | 1;
  ts?: string;
  a?: Attributes;
  ab?: BytesPath[];
  d?: number;
}

/** Written by onEnd: the whole span, enough to rebuild a ReadableSpan. */
export interface SpanEndRecord extends SpanStartRecord {
  et: HrTime;
  sx: { c: number; m?: string };
  ev: EventRecord[];
  l: LinkRecord[];
  da: number;
  de: number;
  dl: number;
}

export interface ResourceRecord {
  id: number;
  a: Attributes;
  ab?: BytesPath[];
  /** The resource's schema URL, where it has one. */
  u?: string;
}

export interface HeartbeatRecord {
  ms: number;
}

export interface ProcessExitRecord {
  ms: number;
  /** The span processor shut down (the process may live on); spans still open never end. */
  shutdown?: true;
  code?: number;
  signal?: string;
  error?: { name: string; message: string; stack?: string };
}

/** Every SPAN_END before this position of this writer has been committed by the exporter. */
export interface CommitRecord {
  ms: number;
  segment: number;
  offset: number;
}

/**
 * Spans whose START is in segment `k` and that are no longer open: their END was in a
 * segment deleted while `k` stays (kept for the STARTs of spans still open), or nowhere
 * (their row committed from memory). Written into `k`'s side file (`<k>.settled`,
 * SettledSpans.ts), never into a segment. Without it, recovery would take such a span for
 * open and write it a crash record. `e` holds trace id, span id pairs, flat.
 */
export interface SettledRecord {
  k: number;
  e: string[];
}

/** Written by JournalLogRecordProcessor.onEmit: one OpenTelemetry log record. */
export interface LogRecordPayload {
  /** Sequence number among this writer's log records: with the writer id, the record's key. */
  q: number;
  /** Time and observed time. */
  t: HrTime;
  o: HrTime;
  /** Trace id, span id, trace flags of the span it was emitted in; absent outside any span. */
  tr?: string;
  s?: string;
  f?: number;
  sn?: number;
  sv?: string;
  /** Body: any AnyValue, encoded as an attribute value (attributeValues.ts); `bb` where it holds bytes. */
  b?: unknown;
  bb?: BytesPath[];
  a: Attributes;
  ab?: BytesPath[];
  e?: string;
  d?: number;
  sc: ScopeRecord;
  r: number;
}
