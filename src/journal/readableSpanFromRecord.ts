// Journal payload -> ReadableSpan, so spans read back from disk can go to any
// SpanExporter (ours, OTLP, console) exactly as the SDK would have handed them over.
import type { Attributes, HrTime, Link, SpanContext, SpanStatus, TraceState } from '@opentelemetry/api';
import { hrTimeDuration, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { decodeAttributes } from './attributeValues.js';
import type { LinkRecord, SpanEndRecord, SpanStartRecord } from './recordTypes.js';
import { linkIsRemote } from './spanRecords.js';
import { RecordedTraceState } from './RecordedTraceState.js';

function traceStateOf(serialized: string | undefined): TraceState | undefined {
  return serialized ? new RecordedTraceState(serialized) : undefined;
}

function linkFrom(record: LinkRecord): Link {
  const context: SpanContext = { traceId: record.t, spanId: record.s, traceFlags: record.f, isRemote: linkIsRemote(record) };
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
  // Each part after its length, '-' for a missing one: read one way only. Joined with
  // separators, a name or version holding the separator named another tracer's scope
  // ('lib' version 'x\u00001.0' read back as 'lib\u0000x' version '1.0'; a review).
  const key = `${keyPart(record.sc.n)}${keyPart(record.sc.v)}${keyPart(record.sc.u)}`;
  let scope = scopes.get(key);
  if (scope === undefined) {
    if (scopes.size >= MAX_SCOPES) scopes.clear();
    scope = { name: record.sc.n, version: record.sc.v, schemaUrl: record.sc.u };
    scopes.set(key, scope);
  }
  return scope;
}

/**
 * A part of a scope's key: a string after its length, '-' when absent, anything else (a
 * tracer named by plain JavaScript with a number, say) as its JSON, tagged apart from
 * strings.
 */
function keyPart(part: unknown): string {
  if (part === undefined) return '-';
  return typeof part === 'string' ? `s${part.length}:${part}` : `j${JSON.stringify(part)}`;
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
  return new RecordedSpan(record, resource, overrides);
}

/**
 * A class, not an object literal: V8 may pretenure an object literal's site (see
 * ConvertedSpanRow in postgres/spanRows.ts), and a span made in the old generation keeps
 * the young objects it refers to alive until a full collection. Every field is the
 * object's own (spanContext too), so a copy made by spreading it is a whole span.
 */
class RecordedSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: ReadableSpan['kind'];
  readonly spanContext: () => SpanContext;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly attributes: Attributes;
  readonly links: Link[];
  readonly events: TimedEvent[];
  readonly duration: HrTime;
  readonly ended = true;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;

  constructor(record: SpanStartRecord | SpanEndRecord, resource: Resource, overrides: SpanOverrides) {
    const end = 'et' in record ? record : undefined;
    const spanContext = new RecordedContext(record.t, record.s, record.f, false, traceStateOf(record.ts));
    this.parentSpanContext = record.p ? new RecordedContext(record.t, record.p, record.f, record.pr === 1, undefined) : undefined;
    this.endTime = overrides.endTime ?? end?.et ?? record.st;
    this.status = overrides.status ?? (end ? { code: end.sx.c, message: end.sx.m } : { code: 0 });
    const recorded = decodeAttributes(record);
    this.attributes = overrides.extraAttributes ? { ...recorded, ...overrides.extraAttributes } : recorded;
    this.events = (end?.ev ?? []).map((event) => new RecordedEvent(event.n, event.t, decodeAttributes(event), event.d ?? 0));
    this.name = record.n;
    this.kind = record.k;
    this.spanContext = () => spanContext;
    this.startTime = record.st;
    // A START has them too where there were any at the start (links given to startSpan).
    this.links = (record.l ?? []).map(linkFrom);
    this.duration = hrTimeDuration(record.st, this.endTime);
    this.resource = resource;
    this.instrumentationScope = sharedScope(record);
    this.droppedAttributesCount = record.da ?? 0;
    this.droppedEventsCount = end?.de ?? 0;
    this.droppedLinksCount = record.dl ?? 0;
  }
}

/** Classes too, for the same reason: the span's context and events refer to its strings. */
class RecordedContext implements SpanContext {
  readonly traceState?: TraceState;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly traceFlags: number,
    readonly isRemote: boolean,
    traceState: TraceState | undefined,
  ) {
    if (traceState) this.traceState = traceState;
  }
}

class RecordedEvent implements TimedEvent {
  constructor(
    readonly name: string,
    readonly time: HrTime,
    readonly attributes: Attributes,
    readonly droppedAttributesCount: number,
  ) {}
}
