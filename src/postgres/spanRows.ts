// ReadableSpan → the values of one `spans` row and its `logs` rows, sanitised and with
// JSON columns already serialised, so statements only arrange them into column arrays.
import { SpanStatusCode, type Attributes, type SpanContext } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { ATTR_CRASH_REASON, ATTR_END_TIME_ESTIMATED, ATTR_SPAN_STATE, type SpanState } from '../spanMarkers.js';
import { SPAN_KINDS, STATUS_CODES } from './columnCodes.js';
import { sanitizeOptionalString, sanitizeString, toJsonText } from './sanitize.js';
import { toUnixNano, toUnixNanoOrNull, type UnixNano } from './unixNano.js';

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
}

export interface ScopeColumns {
  name: string | null;
  version: string | null;
}

/**
 * Converts spans of one batch. Resources and scopes are converted once per object: every
 * span of a process shares one resource, often the largest part of a span.
 */
export class SpanRowConverter {
  readonly #resources = new Map<object, ResourceColumns>();
  readonly #scopes = new Map<object, ScopeColumns>();

  toRow(span: ReadableSpan): SpanRow {
    const context = span.spanContext();
    const attributes: Attributes = span.attributes ?? {};
    return {
      traceId: hexId(context.traceId),
      spanId: hexId(context.spanId),
      parentSpanId: parentSpanId(span),
      traceState: sanitizeOptionalString(context.traceState?.serialize()),
      name: sanitizeString(String(span.name ?? '')),
      kind: SPAN_KINDS[span.kind] ?? 'INTERNAL',
      state: spanState(attributes[ATTR_SPAN_STATE]),
      startTime: toUnixNano(span.startTime),
      endTime: toUnixNanoOrNull(span.endTime),
      statusCode: STATUS_CODES[span.status?.code ?? SpanStatusCode.UNSET] ?? 'UNSET',
      statusMessage: sanitizeOptionalString(span.status?.message),
      attributes: toJsonText(attributes),
      resource: this.resourceColumns(span.resource),
      scope: this.scopeColumns(span.instrumentationScope),
      links: linksJson(span),
      droppedAttributesCount: count(span.droppedAttributesCount),
      droppedEventsCount: count(span.droppedEventsCount),
      droppedLinksCount: count(span.droppedLinksCount),
      crashReason: sanitizeOptionalString(attributes[ATTR_CRASH_REASON]),
      endTimeEstimated: attributes[ATTR_END_TIME_ESTIMATED] === true,
      events: (span.events ?? []).map(eventRow),
    };
  }

  /** Shared with log records (logRows.ts): a span and a log line of one process share one resource. */
  resourceColumns(resource: Resource | undefined): ResourceColumns {
    const key: object = resource ?? SpanRowConverter;
    let columns = this.#resources.get(key);
    if (columns === undefined) {
      const attributes: Attributes = resource?.attributes ?? {};
      columns = { json: toJsonText(attributes), serviceName: sanitizeOptionalString(attributes['service.name']) };
      this.#resources.set(key, columns);
    }
    return columns;
  }

  scopeColumns(scope: InstrumentationScope | undefined): ScopeColumns {
    const key: object = scope ?? SpanRowConverter;
    let columns = this.#scopes.get(key);
    if (columns === undefined) {
      columns = { name: sanitizeOptionalString(scope?.name), version: sanitizeOptionalString(scope?.version) };
      this.#scopes.set(key, columns);
    }
    return columns;
  }
}

/** Ids are stored as the lowercase hex users see in their logs. */
export function hexId(id: unknown): string {
  return sanitizeString(String(id ?? '')).toLowerCase();
}

const INVALID_SPAN_ID = '0000000000000000';

function parentSpanId(span: ReadableSpan): string | null {
  // `parentSpanId` is the sdk-trace-base 1.x field: spans replayed from an older journal.
  const raw = span.parentSpanContext?.spanId ?? (span as { parentSpanId?: string }).parentSpanId;
  if (raw === undefined || raw === null || raw === '') return null;
  const id = hexId(raw);
  return id === INVALID_SPAN_ID ? null : id;
}

function spanState(marker: unknown): SpanState {
  return marker === 'crashed' || marker === 'started' ? marker : 'ended';
}

export function count(value: unknown): number {
  // Stored as integer; a count beyond 2^31 - 1 is clamped rather than refused.
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? Math.min(value, 2_147_483_647) : 0;
}

function linksJson(span: ReadableSpan): string {
  const links = span.links ?? [];
  if (links.length === 0) return '[]';
  return toJsonText(
    links.map((link) => {
      const context: Partial<SpanContext> = link.context ?? {};
      return {
        trace_id: hexId(context.traceId),
        span_id: hexId(context.spanId),
        trace_state: context.traceState?.serialize() ?? null,
        attributes: link.attributes ?? {},
        dropped_attributes_count: count(link.droppedAttributesCount),
      };
    }),
  );
}

function eventRow(event: TimedEvent, eventIndex: number): EventRow {
  return {
    eventIndex,
    time: toUnixNano(event.time),
    name: sanitizeString(String(event.name ?? '')),
    attributes: toJsonText(event.attributes ?? {}),
    droppedAttributesCount: count(event.droppedAttributesCount),
  };
}
