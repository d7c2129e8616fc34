// One `traces` row per trace id in a batch, aggregated from its spans. The upsert merges
// it with what is stored (earliest start, latest end, first known root, named as it ended),
// so writing a batch in parts gives the same row as writing it whole.
import { SPAN_KNOWN_FROM_LOGS_NAME } from './logRows.js';
import type { SpanRow } from './spanRows.js';
import { compareUnixNano, type UnixNano } from './unixNano.js';

export interface TraceRow {
  traceId: string;
  serviceName: string | null;
  rootSpanId: string | null;
  rootSpanName: string | null;
  /** The root's row here is its ended one: its name is final (migration 4). */
  rootSpanEnded: boolean;
  startTime: UnixNano;
  endTime: UnixNano | null;
}

/** Rows come out in the order their trace ids first appear (sorted input stays sorted). */
export function traceRows(spans: readonly SpanRow[]): TraceRow[] {
  const traces = new Map<string, TraceRow>();
  for (const span of spans) {
    // A row that stands for a span known only from its log records has no parent because
    // none is known, not because it is the root: the upsert keeps the first root it meets.
    const isRoot = span.parentSpanId === null && !(span.state === 'started' && span.name === SPAN_KNOWN_FROM_LOGS_NAME);
    const trace = traces.get(span.traceId);
    if (trace === undefined) {
      traces.set(span.traceId, new TraceOfSpan(span, isRoot));
      continue;
    }
    trace.serviceName ??= span.resource.serviceName;
    if (isRoot && trace.rootSpanId === null) {
      trace.rootSpanId = span.spanId;
      trace.rootSpanName = span.name;
      trace.rootSpanEnded = span.state === 'ended';
    }
    if (compareUnixNano(span.startTime, trace.startTime) < 0) trace.startTime = span.startTime;
    if (span.endTime !== null && (trace.endTime === null || compareUnixNano(span.endTime, trace.endTime) > 0)) {
      trace.endTime = span.endTime;
    }
  }
  return [...traces.values()];
}

/** A class, not an object literal, so V8 never pretenures it (see ConvertedSpanRow in spanRows.ts). */
class TraceOfSpan implements TraceRow {
  readonly traceId: string;
  serviceName: string | null;
  rootSpanId: string | null;
  rootSpanName: string | null;
  rootSpanEnded: boolean;
  startTime: UnixNano;
  endTime: UnixNano | null;

  constructor(span: SpanRow, isRoot: boolean) {
    this.traceId = span.traceId;
    this.serviceName = span.resource.serviceName;
    this.rootSpanId = isRoot ? span.spanId : null;
    this.rootSpanName = isRoot ? span.name : null;
    this.rootSpanEnded = isRoot && span.state === 'ended';
    this.startTime = span.startTime;
    this.endTime = span.endTime;
  }
}
