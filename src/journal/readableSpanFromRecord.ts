// Journal payload -> ReadableSpan, so spans read back from disk can go to any
// SpanExporter (ours, OTLP, console) exactly as the SDK would have handed them over.
import type { Attributes, HrTime, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import { TraceState, hrTimeDuration, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { decodeAttributes } from './attributeValues.js';
import type { LinkRecord, SpanEndRecord, SpanStartRecord } from './recordTypes.js';

function traceStateOf(serialized: string | undefined): TraceState | undefined {
  return serialized ? new TraceState(serialized) : undefined;
}

function linkFrom(record: LinkRecord): Link {
  const context: SpanContext = { traceId: record.t, spanId: record.s, traceFlags: record.f, isRemote: true };
  const traceState = traceStateOf(record.ts);
  if (traceState) context.traceState = traceState;
  const link: Link = { context, attributes: decodeAttributes(record) };
  if (record.d) link.droppedAttributesCount = record.d;
  return link;
}

/**
 * One scope object per distinct scope, as the SDK gives every span of a tracer the same
 * one: exporters group by scope object (ours converts each once per batch), and a new
 * object per span read back made a batch of 1024 spans carry 1024 "distinct" scopes.
 * Bounded: emptied when it holds this many (an application has a handful).
 */
const MAX_SCOPES = 256;
const scopes = new Map<string, InstrumentationScope>();

function sharedScope(record: SpanStartRecord | SpanEndRecord): InstrumentationScope {
  // U+0001 stands for a missing version or schema URL, so one never meets an empty one.
  const key = `${record.sc.n}\u0000${record.sc.v ?? '\u0001'}\u0000${record.sc.u ?? '\u0001'}`;
  let scope = scopes.get(key);
  if (scope === undefined) {
    if (scopes.size >= MAX_SCOPES) scopes.clear();
    scope = { name: record.sc.n, version: record.sc.v, schemaUrl: record.sc.u };
    scopes.set(key, scope);
  }
  return scope;
}

export interface SpanOverrides {
  endTime?: HrTime;
  status?: SpanStatus;
  extraAttributes?: Attributes;
}

/** A ReadableSpan from an END record, or — for crash records — from a START plus overrides. */
export function readableSpanFromRecord(
  record: SpanStartRecord | SpanEndRecord,
  resource: Resource,
  overrides: SpanOverrides = {},
): ReadableSpan {
  const end = 'et' in record ? record : undefined;
  const spanContext: SpanContext = { traceId: record.t, spanId: record.s, traceFlags: record.f, isRemote: false };
  const traceState = traceStateOf(record.ts);
  if (traceState) spanContext.traceState = traceState;
  const parentSpanContext: SpanContext | undefined = record.p
    ? { traceId: record.t, spanId: record.p, traceFlags: record.f, isRemote: record.pr === 1 }
    : undefined;
  const endTime = overrides.endTime ?? end?.et ?? record.st;
  const status: SpanStatus = overrides.status ?? (end ? { code: end.sx.c, message: end.sx.m } : { code: 0 });
  const recorded = decodeAttributes(record);
  const attributes = overrides.extraAttributes ? { ...recorded, ...overrides.extraAttributes } : recorded;
  const events: TimedEvent[] = (end?.ev ?? []).map((event) => ({
    name: event.n,
    time: event.t,
    attributes: decodeAttributes(event),
    droppedAttributesCount: event.d ?? 0,
  }));
  return {
    name: record.n,
    kind: record.k,
    spanContext: () => spanContext,
    parentSpanContext,
    startTime: record.st,
    endTime,
    status,
    attributes,
    links: (end?.l ?? []).map(linkFrom),
    events,
    duration: hrTimeDuration(record.st, endTime),
    ended: true,
    resource,
    instrumentationScope: sharedScope(record),
    droppedAttributesCount: end?.da ?? 0,
    droppedEventsCount: end?.de ?? 0,
    droppedLinksCount: end?.dl ?? 0,
  };
}
