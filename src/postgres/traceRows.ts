// One `traces` row per trace id in a batch, aggregated from its spans. The upsert merges
// it with what is stored (earliest start, latest end, first known root, named as it ended),
// so writing a batch in parts gives the same row as writing it whole.
// The root is a span without a parent; failing one, the earliest started (then the lowest
// span id) whose parent is in another process (a service behind another has no span
// without a parent: migration 6), so the batching and the commit order do not matter.
import { isStandIn } from './logRows.js';
import type { SpanRow } from './spanRows.js';
import { compareUnixNano, type UnixNano } from './unixNano.js';

export interface TraceRow {
  traceId: string;
  serviceName: string | null;
  rootSpanId: string | null;
  rootSpanName: string | null;
  /** The root's row here is its ended one: its name is final (migration 4). */
  rootSpanEnded: boolean;
  /** The root's parent is in another process: a span without a parent takes over (migration 6). */
  rootParentIsRemote: boolean;
  /** When the root started: of two whose parents are remote, the earlier names the trace. */
  rootStartTime: UnixNano | null;
  /** Known only from stand-in rows: made where missing, never changing a stored trace. */
  tentative: boolean;
  startTime: UnixNano;
  endTime: UnixNano | null;
}

/**
 * Rows come out sorted by trace id (the input is sorted by key: mergeSpanRows), the order
 * the statement locks them in: a batch locks every trace it touches there first, so two
 * batches that share a trace queue there and never deadlock on a later table. Stand-in rows (isStandIn: a span known only from a log record) count only for a trace
 * the batch has no other row of, which comes out `tentative`: the statement makes such a
 * row where the trace has none and never changes one (a stand-in's time is a log line's,
 * and it moved a stored trace's start by years). Nor is a stand-in
 * ever the root: it has no parent because none is known.
 */
export function traceRows(spans: readonly SpanRow[]): TraceRow[] {
  const traces = new Map<string, TraceOfSpan>();
  const standIns: SpanRow[] = [];
  for (const span of spans) {
    if (isStandIn(span)) {
      standIns.push(span);
      continue;
    }
    const rank = rootRank(span);
    const trace = traces.get(span.traceId);
    if (trace === undefined) {
      traces.set(span.traceId, new TraceOfSpan(span, rank, false));
      continue;
    }
    trace.serviceName ??= span.resource.serviceName;
    if (rank > trace.rootRank || (rank === LOCAL_ROOT && trace.rootRank === LOCAL_ROOT && startsBefore(span, trace))) trace.takeRoot(span, rank);
    if (compareUnixNano(span.startTime, trace.startTime) < 0) trace.startTime = span.startTime;
    if (span.endTime !== null && (trace.endTime === null || compareUnixNano(span.endTime, trace.endTime) > 0)) {
      trace.endTime = span.endTime;
    }
  }
  let added = false;
  for (const span of standIns) {
    const trace = traces.get(span.traceId);
    if (trace === undefined) {
      traces.set(span.traceId, new TraceOfSpan(span, NOT_ROOT, true));
      added = true;
    } else if (trace.tentative && compareUnixNano(span.startTime, trace.startTime) < 0) trace.startTime = span.startTime;
  }
  const rows = [...traces.values()];
  // Added after the others, a stand-in's trace was locked out of order, and two batches
  // with each other's log records deadlocked on traces (a soak: 16 times, in the drains
  // after outages; each cost a second and a false "export failed").
  return added ? rows.sort((a, b) => (a.traceId < b.traceId ? -1 : a.traceId > b.traceId ? 1 : 0)) : rows;
}

const NOT_ROOT = 0;
const LOCAL_ROOT = 1;
const ROOT = 2;
type RootRank = typeof NOT_ROOT | typeof LOCAL_ROOT | typeof ROOT;

function rootRank(span: SpanRow): RootRank {
  if (span.parentSpanId === null) return ROOT;
  return span.parentIsRemote === true ? LOCAL_ROOT : NOT_ROOT;
}

/** Whether `span` started before the trace's root, or with it and has the lower span id (statementSql.ts compares the same). */
function startsBefore(span: SpanRow, trace: TraceOfSpan): boolean {
  const order = compareUnixNano(span.startTime, trace.rootStartTime!);
  return order < 0 || (order === 0 && span.spanId < trace.rootSpanId!);
}

/** A class, not an object literal, so V8 never pretenures it (see ConvertedSpanRow in spanRows.ts). */
class TraceOfSpan implements TraceRow {
  readonly traceId: string;
  serviceName: string | null;
  rootSpanId: string | null = null;
  rootSpanName: string | null = null;
  rootSpanEnded = false;
  rootStartTime: UnixNano | null = null;
  rootRank: RootRank = NOT_ROOT;
  readonly tentative: boolean;
  startTime: UnixNano;
  endTime: UnixNano | null;

  constructor(span: SpanRow, rank: RootRank, tentative: boolean) {
    this.tentative = tentative;
    this.traceId = span.traceId;
    this.serviceName = span.resource.serviceName;
    if (rank !== NOT_ROOT) this.takeRoot(span, rank);
    this.startTime = span.startTime;
    this.endTime = span.endTime;
  }

  takeRoot(span: SpanRow, rank: RootRank): void {
    this.rootRank = rank;
    this.rootSpanId = span.spanId;
    this.rootSpanName = span.name;
    this.rootSpanEnded = span.state === 'ended';
    this.rootStartTime = span.startTime;
  }

  get rootParentIsRemote(): boolean {
    return this.rootRank === LOCAL_ROOT;
  }
}
