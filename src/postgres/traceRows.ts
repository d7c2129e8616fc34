// One `traces` row per trace id in a batch, aggregated from its spans. The upsert merges
// it with what is stored (earliest start, latest end, first known root), so writing a
// batch in parts gives the same row as writing it whole.
import type { SpanRow } from './spanRows.js';

export interface TraceRow {
  traceId: string;
  serviceName: string | null;
  rootSpanId: string | null;
  rootSpanName: string | null;
  startUnixNano: string;
  endUnixNano: string | null;
}

/** Rows come out in the order their trace ids first appear (sorted input stays sorted). */
export function traceRows(spans: readonly SpanRow[]): TraceRow[] {
  const traces = new Map<string, TraceRow>();
  for (const span of spans) {
    const isRoot = span.parentSpanId === null;
    const trace = traces.get(span.traceId);
    if (trace === undefined) {
      traces.set(span.traceId, {
        traceId: span.traceId,
        serviceName: span.resource.serviceName,
        rootSpanId: isRoot ? span.spanId : null,
        rootSpanName: isRoot ? span.name : null,
        startUnixNano: span.startUnixNano,
        endUnixNano: span.endUnixNano,
      });
      continue;
    }
    trace.serviceName ??= span.resource.serviceName;
    if (isRoot && trace.rootSpanId === null) {
      trace.rootSpanId = span.spanId;
      trace.rootSpanName = span.name;
    }
    if (compareDecimal(span.startUnixNano, trace.startUnixNano) < 0) trace.startUnixNano = span.startUnixNano;
    if (span.endUnixNano !== null && (trace.endUnixNano === null || compareDecimal(span.endUnixNano, trace.endUnixNano) > 0)) {
      trace.endUnixNano = span.endUnixNano;
    }
  }
  return [...traces.values()];
}

/** Compares non-negative decimal strings without BigInt: longer is larger, else lexically. */
export function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
