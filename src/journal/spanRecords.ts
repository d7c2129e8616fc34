// ReadableSpan -> journal payloads. This runs on the application's thread inside onStart
// and onEnd, so it builds plain objects for one JSON.stringify and nothing more; attribute
// values JSON cannot store as they are (bytes, maps, a bigint, a cycle, a throwing getter)
// take the careful copy of attributeValues.ts, and a record too large for one frame is cut
// down by recordCap.ts.
import { INVALID_SPAN_CONTEXT, type Attributes, type Link, type SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { putAttributes, jsonSafe } from './attributeValues.js';
import { cappedRecordJson, fitsInFrame } from './recordCap.js';
import type { EventRecord, LinkRecord, ResourceRecord, ScopeRecord, SpanEndRecord, SpanStartRecord } from './recordTypes.js';
import { traceStateText } from '../traceStateText.js';
import { nameText } from '../valueLimits.js';

export function scopeOf(span: ReadableSpan): ScopeRecord {
  const scope = span.instrumentationScope;
  const record: ScopeRecord = { n: scope.name };
  if (scope.version !== undefined) record.v = scope.version;
  if (scope.schemaUrl !== undefined) record.u = scope.schemaUrl;
  return record;
}

// Span records begin {"t":"<32 hex>","s":"<16 hex>" (startRecord sets t and s first), so a
// reader that only needs the span's identity takes it from these bytes without parsing the
// JSON: 0.1 µs instead of ~2.5 µs for a 400-byte record (bench/recovery.mjs reads 400,000).
const TRACE_PREFIX = Buffer.from('{"t":"');
const SPAN_PREFIX = Buffer.from('","s":"');
const SPAN_AT = TRACE_PREFIX.length + 32 + SPAN_PREFIX.length;

/**
 * `prefix` sits in `payload` at `at`. A loop, not Buffer#compare: for these few bytes the
 * call's argument checks cost 3× the comparison (recovery asks three times per span).
 */
function bytesAt(payload: Buffer, prefix: Buffer, at: number): boolean {
  for (let i = 0; i < prefix.length; i++) if (payload[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * Whether the id bytes of the fast path are their strings' own characters: no escape
 * (`\`) and nothing but ASCII. Escaped or multi-byte ids can fit the layout too, and their
 * slice is then the JSON text, not the id: keyed that way, such a span matched no key made
 * from its ids (spanKey), as a SETTLED record's are (SettledSpans.ts).
 */
function plainIds(payload: Buffer): boolean {
  for (let i = TRACE_PREFIX.length; i < SPAN_AT + 16; i++) if (payload[i]! >= 0x80 || payload[i] === 0x5c) return false;
  return true;
}

/**
 * A START or END payload's trace id and span id as one string, or undefined when it has
 * none. A span id is unique within its trace only, so a span is known by both. The string
 * is spanKey(trace id, span id): for plain ids (SDK ids are hex) one slice of the bytes,
 * `<trace id>","s":"<span id>`, else from the parsed record.
 */
export function spanKeyOfRecord(payload: Buffer): string | undefined {
  if (
    payload.length > SPAN_AT + 16 &&
    bytesAt(payload, TRACE_PREFIX, 0) &&
    bytesAt(payload, SPAN_PREFIX, SPAN_AT - SPAN_PREFIX.length) &&
    payload[SPAN_AT + 16] === 0x22 &&
    plainIds(payload)
  ) {
    return payload.toString('latin1', TRACE_PREFIX.length, SPAN_AT + 16);
  }
  try {
    const { t, s } = JSON.parse(payload.toString('utf8')) as { t?: unknown; s?: unknown };
    return typeof t === 'string' && typeof s === 'string' ? spanKey(t, s) : undefined;
  } catch {
    return undefined;
  }
}

/** What spanKeyOfRecord gives for a span of these ids. */
export function spanKey(traceId: string, spanId: string): string {
  return `${traceId}","s":"${spanId}`;
}

export function startRecord(span: ReadableSpan, resourceId: number): SpanStartRecord {
  const record = spanFields(span, resourceId);
  putStartOnlyKnowns(record, span);
  return record;
}

/** The fields a START and an END share (an END then writes links and counts of its own). */
function spanFields(span: ReadableSpan, resourceId: number): SpanStartRecord {
  const context = span.spanContext();
  const record: SpanStartRecord = {
    t: context.traceId,
    s: context.spanId,
    f: context.traceFlags,
    n: nameText(span.name),
    k: span.kind,
    st: span.startTime,
    a: span.attributes,
    sc: scopeOf(span),
    r: resourceId,
  };
  putAttributes(record, span.attributes);
  const parent = span.parentSpanContext;
  if (parent) {
    record.p = parent.spanId;
    if (parent.isRemote === true) record.pr = 1;
  }
  const traceState = traceStateText(context.traceState);
  if (traceState) record.ts = traceState;
  return record;
}

/**
 * What is known at the start besides the fields above, and lost to a crash record without
 * them: the links given to startSpan (samplers see them) and what the span limits dropped
 * of them and of the attributes. Written only when there are any: most spans have none.
 * An END writes its own (endRecord), with what was added since.
 */
function putStartOnlyKnowns(record: SpanStartRecord, span: ReadableSpan): void {
  const links: unknown = span.links;
  if (Array.isArray(links) && links.length > 0) record.l = links.map(linkRecord);
  if (span.droppedAttributesCount) record.da = span.droppedAttributesCount;
  if (span.droppedLinksCount) record.dl = span.droppedLinksCount;
}

function eventRecord(event: TimedEvent): EventRecord {
  const record: EventRecord = { n: nameText(event.name), t: event.time };
  if (event.attributes && Object.keys(event.attributes).length > 0) putAttributes(record, event.attributes);
  if (event.droppedAttributesCount) record.d = event.droppedAttributesCount;
  return record;
}

/**
 * Whether a link read back from the journal points to a remote context. `rm` is written on
 * every link (1 remote, else 0: an undefined isRemote too, which OTLP flags alike); records
 * written before it existed lack it, and their links read as remote, as they always did (a
 * hard-coded true made every recovered link remote: OTLP flags 769, not 257).
 */
export function linkIsRemote(record: LinkRecord): boolean {
  return record.rm !== 0;
}

/**
 * A link without a context (the SDK takes `{ context: trace.getSpanContext(ctx) }` when no
 * span is active, undefined) is written as a link to the invalid context, as an OTLP
 * exporter would send it: reading its ids threw, in onStart and onEnd, and the span was
 * never journaled (no row, no crash record).
 */
function linkRecord(link: Link): LinkRecord {
  const context: SpanContext = (link as Partial<Link> | null | undefined)?.context ?? INVALID_SPAN_CONTEXT;
  const record: LinkRecord = { t: context.traceId, s: context.spanId, f: context.traceFlags, rm: context.isRemote === true ? 1 : 0 };
  const traceState = traceStateText(context.traceState);
  if (traceState) record.ts = traceState;
  if (link?.attributes && Object.keys(link.attributes).length > 0) putAttributes(record, link.attributes);
  if (link?.droppedAttributesCount) record.d = link.droppedAttributesCount;
  return record;
}

export function endRecord(span: ReadableSpan, resourceId: number): SpanEndRecord {
  // Not startRecord: its links and counts would be built and then replaced.
  const record = spanFields(span, resourceId) as SpanEndRecord;
  record.et = span.endTime;
  record.sx = span.status.message === undefined ? { c: span.status.code } : { c: span.status.code, m: span.status.message };
  record.ev = span.events.map(eventRecord);
  record.l = span.links.map(linkRecord);
  record.da = span.droppedAttributesCount;
  record.de = span.droppedEventsCount;
  record.dl = span.droppedLinksCount;
  return record;
}

/**
 * The RESOURCE record of `resource`. While its async attributes are pending, reading
 * `resource.attributes` makes the SDK print "Accessing resource attributes before async
 * attributes settled" (at the application's first span): only the attributes that have
 * settled are taken then, from the raw list, the first value of a key winning as in the SDK.
 */
export function resourceRecord(id: number, resource: Resource): ResourceRecord {
  const attributes = resource.asyncAttributesPending ? settledAttributes(resource) : resource.attributes;
  const record: ResourceRecord = { id, a: attributes };
  putAttributes(record, attributes);
  if (typeof resource.schemaUrl === 'string') record.u = resource.schemaUrl;
  return record;
}

/**
 * JSON for a record, never throwing and never larger than one frame. Attribute maps were
 * made JSON-safe when the record was built; anything else JSON.stringify cannot take
 * (a record built elsewhere) is copied carefully.
 */
export function recordJson(record: unknown): string {
  let safe = record;
  let json: string;
  try {
    json = JSON.stringify(record);
  } catch (error) {
    safe = jsonSafe(record);
    // JSON longer than V8 allows a string to be: stringifying the copy would throw again,
    // after as long (seconds, for a body of 90 million control characters).
    if (isTooLong(error)) return cappedRecordJson(safe);
    try {
      json = JSON.stringify(safe);
    } catch {
      return cappedRecordJson(safe);
    }
  }
  return fitsInFrame(json) ? json : cappedRecordJson(safe);
}

/** V8's RangeError "Invalid string length" (not its stack overflow, also a RangeError). */
function isTooLong(error: unknown): boolean {
  return error instanceof RangeError && error.message.includes('string length');
}

function settledAttributes(resource: Resource): Attributes {
  const attributes: Attributes = {};
  for (const [key, value] of resource.getRawAttributes?.() ?? []) {
    if (value === null || value === undefined || Object.hasOwn(attributes, key)) continue;
    if (typeof (value as { then?: unknown }).then === 'function') continue;
    attributes[key] = value as Attributes[string];
  }
  return attributes;
}
