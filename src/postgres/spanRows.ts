// ReadableSpan → the values of one `spans` row and its `logs` rows, sanitised and with
// JSON columns already serialised, so statements only arrange them into column arrays.
import { createHash } from 'node:crypto';
import { SpanStatusCode, type Attributes, type SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { ATTR_CRASH_REASON, ATTR_END_TIME_ESTIMATED, ATTR_SPAN_STATE, type SpanState } from '../spanMarkers.js';
import { SPAN_KINDS, STATUS_CODES } from './columnCodes.js';
import { ATTR_SCOPE_CUT, boundedResourceJson, boundedText } from './boundedResource.js';
import { sanitizeOptionalString, sanitizeString, toJsonText } from './sanitize.js';
import { compareUnixNano, toUnixNano, toUnixNanoOrNull, type UnixNano } from './unixNano.js';
import { traceStateText } from '../traceStateText.js';
import { nameText } from '../valueLimits.js';
import { scopeAttributes } from '../scopeAttributes.js';

export interface EventRow {
  eventIndex: number;
  time: UnixNano;
  name: string;
  attributes: string;
  droppedAttributesCount: number;
}

export interface SpanRow {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** Whether the parent came from another process (OTLP's Span.flags); null without a parent. */
  parentIsRemote: boolean | null;
  traceState: string | null;
  name: string;
  kind: (typeof SPAN_KINDS)[number];
  state: SpanState;
  startTime: UnixNano;
  endTime: UnixNano | null;
  statusCode: (typeof STATUS_CODES)[number];
  statusMessage: string | null;
  attributes: string;
  /** Shared by every row of one Resource object. */
  resource: ResourceColumns;
  /** Shared by every row of one InstrumentationScope object. */
  scope: ScopeColumns;
  links: string;
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
  crashReason: string | null;
  endTimeEstimated: boolean;
  events: EventRow[];
}

export interface ResourceColumns {
  /** JSON text of the resource attributes. */
  json: string;
  serviceName: string | null;
  schemaUrl: string | null;
}

export interface ScopeColumns {
  name: string | null;
  version: string | null;
  schemaUrl: string | null;
  /** JSON text of a logger's scope attributes; null where it has none (a tracer's scope never has them in the API). */
  attributes: string | null;
}

/**
 * Converts spans of one batch. Resources and scopes are converted once per object: every
 * span of a process shares one resource, often the largest part of a span.
 */
export class SpanRowConverter {
  readonly #resources = new Map<object, ResourceColumns>();
  readonly #scopes = new Map<object, ScopeColumns>();

  toRow(span: ReadableSpan): SpanRow {
    return new ConvertedSpanRow(span, this.resourceColumns(span.resource), this.scopeColumns(span.instrumentationScope));
  }

  /** Shared with log records (logRows.ts): a span and a log line of one process share one resource. */
  resourceColumns(resource: Resource | undefined): ResourceColumns {
    const key: object = resource ?? SpanRowConverter;
    let columns = this.#resources.get(key);
    if (columns === undefined) {
      const attributes: Attributes = resource?.attributes ?? {};
      columns = {
        json: boundedResourceJson(attributes),
        serviceName: boundedText(sanitizeOptionalString(attributes['service.name'])),
        // On Resource since resources 2.x; undefined on an older or hand-made one.
        schemaUrl: boundedText(sanitizeOptionalString(resource?.schemaUrl)),
      };
      this.#resources.set(key, columns);
    }
    return columns;
  }

  scopeColumns(scope: InstrumentationScope | undefined): ScopeColumns {
    const key: object = scope ?? SpanRowConverter;
    let columns = this.#scopes.get(key);
    if (columns === undefined) {
      columns = {
        name: boundedText(sanitizeOptionalString(scope?.name)),
        version: boundedText(sanitizeOptionalString(scope?.version)),
        schemaUrl: boundedText(sanitizeOptionalString(scope?.schemaUrl)),
        attributes: scopeAttributesJson(scope),
      };
      this.#scopes.set(key, columns);
    }
    return columns;
  }
}

/** A logger's scope attributes (scopeAttributes.ts), bounded as a resource's; null where it has none. */
function scopeAttributesJson(scope: InstrumentationScope | undefined): string | null {
  const attributes = scopeAttributes(scope);
  if (attributes === undefined) return null;
  try {
    return boundedResourceJson(attributes, ATTR_SCOPE_CUT);
  } catch {
    // Read once without throwing, then not: stored without them rather than not at all.
    return null;
  }
}

// Rows are instances of classes, not object literals. V8 decides per object-literal site,
// from what survived its first scavenges, to allocate that site's objects straight in the
// old generation ("pretenuring"); a row made there keeps every young string it refers to
// alive through the scavenges, so they are promoted, until a full collection frees the
// row. Whether the row site was pretenured depended on the timing of a process's first
// batches: in bench/overload.mjs half the runs promoted ~170 MiB more per 400,000 spans
// and peaked ~25 MiB higher. Objects made by a class constructor are never pretenured.
class ConvertedSpanRow implements SpanRow {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly parentIsRemote: boolean | null;
  readonly traceState: string | null;
  readonly name: string;
  readonly kind: (typeof SPAN_KINDS)[number];
  readonly state: SpanState;
  readonly startTime: UnixNano;
  readonly endTime: UnixNano | null;
  readonly statusCode: (typeof STATUS_CODES)[number];
  readonly statusMessage: string | null;
  readonly attributes: string;
  readonly resource: ResourceColumns;
  readonly scope: ScopeColumns;
  readonly links: string;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
  readonly crashReason: string | null;
  readonly endTimeEstimated: boolean;
  readonly events: EventRow[];

  constructor(span: ReadableSpan, resource: ResourceColumns, scope: ScopeColumns) {
    const context = span.spanContext();
    const attributes: Attributes = span.attributes ?? {};
    this.traceId = hexId(context.traceId);
    this.spanId = hexId(context.spanId);
    this.parentSpanId = parentSpanId(span);
    this.parentIsRemote = this.parentSpanId === null ? null : span.parentSpanContext?.isRemote === true;
    this.traceState = sanitizeOptionalString(traceStateText(context.traceState));
    this.name = sanitizeString(nameText(span.name));
    this.kind = codeAt(SPAN_KINDS, span.kind, 'INTERNAL');
    const marked = markedState(span, attributes);
    this.state = marked.state;
    this.startTime = toUnixNano(span.startTime);
    this.endTime = notBefore(toUnixNanoOrNull(span.endTime), this.startTime);
    this.statusCode = codeAt(STATUS_CODES, span.status?.code ?? SpanStatusCode.UNSET, 'UNSET');
    this.statusMessage = sanitizeOptionalString(span.status?.message);
    this.attributes = toJsonText(attributes);
    this.resource = resource;
    this.scope = scope;
    this.links = linksJson(span);
    this.droppedAttributesCount = count(span.droppedAttributesCount);
    this.droppedEventsCount = count(span.droppedEventsCount);
    this.droppedLinksCount = count(span.droppedLinksCount);
    this.crashReason = sanitizeOptionalString(marked.crashReason);
    this.endTimeEstimated = marked.endTimeEstimated;
    this.events = carriesEvents(this.state, this.droppedEventsCount) ? (span.events ?? []).map(eventRow) : [];
  }
}

/**
 * Events are stored keyed by their index in the span, and an index names the same event
 * in every version of the span only until the SDK drops one: at its eventCountLimit
 * (default 128) it drops the oldest, and every index moves. So a row that is not final
 * ('started', 'crashed') carries events only while none was dropped: they are then the
 * first ones ever added, at the indexes the final span will give them. The final ('ended')
 * row with dropped events replaces what earlier rows stored (replacesStoredEvents).
 */
function carriesEvents(state: SpanState, droppedEventsCount: number): boolean {
  return state === 'ended' || droppedEventsCount === 0;
}

/**
 * Whether `row` replaces the events stored for its span instead of adding to them: a
 * final row whose span dropped events, so its indexes no longer match those of rows stored
 * before (carriesEvents). Without dropped events a final row's events are a superset of
 * any stored ones, index for index, and adding to them is enough.
 */
export function replacesStoredEvents(row: SpanRow): boolean {
  return row.state === 'ended' && row.droppedEventsCount > 0;
}

class ConvertedEventRow implements EventRow {
  readonly eventIndex: number;
  readonly time: UnixNano;
  readonly name: string;
  readonly attributes: string;
  readonly droppedAttributesCount: number;

  constructor(event: TimedEvent, eventIndex: number) {
    this.eventIndex = eventIndex;
    this.time = toUnixNano(event.time);
    this.name = sanitizeString(nameText(event.name));
    this.attributes = toJsonText(event.attributes ?? {});
    this.droppedAttributesCount = count(event.droppedAttributesCount);
  }
}

/**
 * An end before the start (a hand-built span: the SDK's own Span.end() already moves such
 * an end to the start, with a warning) is stored at the start, duration 0, as the SDK does:
 * a negative duration_ns would be the only one in the table, and the trace's end_time
 * would precede its start.
 */
function notBefore(end: UnixNano | null, start: UnixNano): UnixNano | null {
  return end !== null && compareUnixNano(end, start) < 0 ? start : end;
}

/** Ids are stored as the lowercase hex users see in their logs. */
export function idText(id: unknown): string {
  return sanitizeString(String(id ?? '')).toLowerCase();
}

/**
 * The longest id stored in a key column. W3C ids are 32 and 16 characters; an id of a few
 * thousand could not be indexed at all (a btree entry stops at 2,704 bytes: 54000), and
 * failed its batch, and every replay of it, for good.
 */
export const MAX_ID_CHARS = 64;

/** An id for a key column; a longer one makes its record unreadable (dead-lettered, keyed by keyId). */
export function hexId(id: unknown): string {
  const text = idText(id);
  if (text.length > MAX_ID_CHARS) throw new Error(`an id of ${text.length} characters, longer than ${MAX_ID_CHARS}, cannot be a key`);
  return text;
}

/** An id as a dead letter's key: one too long is cut, and told apart from others cut alike by a hash of the whole. */
export function keyId(id: unknown): string {
  const text = idText(id);
  if (text.length <= MAX_ID_CHARS) return text;
  return `${text.slice(0, MAX_ID_CHARS - 17)}~${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

const INVALID_SPAN_ID = '0000000000000000';

function parentSpanId(span: ReadableSpan): string | null {
  // `parentSpanId` is the sdk-trace-base 1.x field: spans replayed from an older journal.
  const raw = span.parentSpanContext?.spanId ?? (span as { parentSpanId?: string }).parentSpanId;
  if (raw === undefined || raw === null || raw === '') return null;
  const id = hexId(raw);
  return id === INVALID_SPAN_ID ? null : id;
}

/** The name at a code's position; anything else (a string such as 'length', -1, 2.5) is the fallback, as the docs say. */
function codeAt<T extends string>(names: readonly T[], code: unknown, fallback: T): T {
  return typeof code === 'number' && Number.isInteger(code) && code >= 0 && code < names.length ? names[code]! : fallback;
}

/**
 * The row's state, crash reason and estimated end, from the markers this library puts on
 * the spans it makes (spanMarkers.ts), where the span has the shape they are made with: a
 * 'started' row is not ended (end time [0, 0]); a crash record has status ERROR, a crash
 * reason and an estimated end (its status message is the reason, but a relay that cuts long
 * attribute values may have cut the one and not the other). An application's own span that carries the markers (its
 * attributes copied from another span, say) is what it is: ended, without a reason; it
 * stayed 'started' for good, or was listed among the crashes (data-fidelity review).
 * Attributes, not a mark of our own: a wrapper that copies spans, a relay of OTLP data or
 * another copy of this library must still be understood (upgrade review).
 */
function markedState(span: ReadableSpan, attributes: Attributes): { state: SpanState; crashReason: unknown; endTimeEstimated: boolean } {
  const marker = attributes[ATTR_SPAN_STATE];
  if (marker === 'started' && isZeroTime(span.endTime)) return { state: 'started', crashReason: null, endTimeEstimated: false };
  const reason = attributes[ATTR_CRASH_REASON];
  if (marker === 'crashed' && span.status?.code === SpanStatusCode.ERROR && typeof reason === 'string' && attributes[ATTR_END_TIME_ESTIMATED] === true) {
    return { state: 'crashed', crashReason: reason, endTimeEstimated: true };
  }
  return { state: 'ended', crashReason: null, endTimeEstimated: false };
}

function isZeroTime(time: unknown): boolean {
  return Array.isArray(time) && time[0] === 0 && time[1] === 0;
}

export function count(value: unknown): number {
  // Stored as integer; a count beyond 2^31 - 1 is clamped rather than refused.
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? Math.min(value, 2_147_483_647) : 0;
}

/** W3C trace flags are one byte; anything else given is stored as 0 (none set). */
function traceFlags(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xff ? value : 0;
}

function linksJson(span: ReadableSpan): string {
  const links = span.links ?? [];
  if (links.length === 0) return '[]';
  return toJsonText(
    links.map((link) => {
      const context: Partial<SpanContext> = link?.context ?? {};
      return {
        trace_id: idText(context.traceId),
        span_id: idText(context.spanId),
        trace_state: traceStateText(context.traceState) ?? null,
        // What OTLP's Link.flags carries: the context's trace flags, and whether it came
        // from another process (a message's producer, an incoming request).
        trace_flags: traceFlags(context.traceFlags),
        is_remote: context.isRemote === true,
        attributes: link?.attributes ?? {},
        dropped_attributes_count: count(link?.droppedAttributesCount),
      };
    }),
  );
}

function eventRow(event: TimedEvent, eventIndex: number): EventRow {
  return new ConvertedEventRow(event, eventIndex);
}
