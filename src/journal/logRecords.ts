// Log record -> LOG payload and back. Encoding runs in onEmit, on the application's thread,
// so it builds one plain object for one JSON.stringify (recordJson). Attributes and the
// body (any AnyValue: bytes, maps, null) go through the journal's attribute encoding
// (attributeValues.ts): bytes stored as base64 with their places listed, read back as
// Uint8Array; the body travels as the one attribute `b` of its own small map.
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import { decodeAttributes, encodeAttributes, putAttributes } from './attributeValues.js';
import type { LogRecordPayload, ScopeRecord } from './recordTypes.js';

/**
 * The journal payload of `record`, with its sequence number and resource record id, and
 * whether its body or attributes had to be copied with care (not plain: maps, bytes, a
 * toJSON, a getter). Then the copy, not the application's object, is what the exporter
 * must get: the object's code would run again at export (a toJSON that logs, logging
 * again), and could give something else than the journal holds.
 */
export function logRecordPayload(record: ReadableLogRecord, sequence: number, resourceId: number): { payload: LogRecordPayload; copied: boolean } {
  const scope = record.instrumentationScope;
  const sc: ScopeRecord = { n: scope.name };
  if (scope.version !== undefined) sc.v = scope.version;
  if (scope.schemaUrl !== undefined) sc.u = scope.schemaUrl;
  // A scope's own attributes (3.x loggers): lost before, live and read back alike (a
  // differential review on the 3.x line: two loggers told apart by them gave one scope).
  const scopeAttributes = (scope as { attributes?: Attributes }).attributes;
  if (scopeAttributes !== undefined && scopeAttributes !== null && hasKeys(scopeAttributes)) putAttributes(sc, scopeAttributes);
  const payload: LogRecordPayload = { q: sequence, t: record.hrTime, o: record.hrTimeObserved, a: {}, sc, r: resourceId };
  putAttributes(payload, record.attributes as Attributes);
  let copied = record.attributes !== undefined && record.attributes !== null && payload.a !== record.attributes;
  const context = record.spanContext;
  if (context !== undefined) {
    payload.tr = context.traceId;
    payload.s = context.spanId;
    payload.f = context.traceFlags;
  }
  if (record.severityNumber !== undefined) payload.sn = record.severityNumber;
  if (record.severityText !== undefined) payload.sv = record.severityText;
  if (record.body !== undefined) {
    const wrapped = { b: record.body } as unknown as Attributes;
    // The wrapper is not counted against MAX_VALUES: the exporter sees the body alone.
    const body = encodeAttributes(wrapped, false);
    payload.b = body.a.b;
    if (body.ab !== undefined) payload.bb = body.ab;
    copied ||= body.a !== wrapped;
  }
  if (record.eventName !== undefined) payload.e = record.eventName;
  if (record.droppedAttributesCount) payload.d = record.droppedAttributesCount;
  return { payload, copied };
}

/** A ReadableLogRecord from a LOG payload, as the SDK would hand it to an exporter. */
export function readableLogFromRecord(payload: LogRecordPayload, resource: Resource): ReadableLogRecord {
  const spanContext: SpanContext | undefined =
    payload.tr !== undefined && payload.s !== undefined ? { traceId: payload.tr, spanId: payload.s, traceFlags: payload.f ?? 0 } : undefined;
  const body = payload.b === undefined ? undefined : decodeAttributes({ a: { b: payload.b } as unknown as Attributes, ab: payload.bb }).b;
  return {
    hrTime: payload.t as HrTime,
    hrTimeObserved: payload.o as HrTime,
    spanContext,
    severityNumber: payload.sn,
    severityText: payload.sv,
    body: body as ReadableLogRecord['body'],
    eventName: payload.e,
    resource,
    // A record cut down to its first fields (recordCap.ts: a key alone larger than a frame) has no scope.
    instrumentationScope: scopeFromRecord(payload.sc),
    attributes: decodeAttributes(payload) as ReadableLogRecord['attributes'],
    droppedAttributesCount: payload.d ?? 0,
  };
}

/** The scope of a LOG payload: its attributes only where it has them, as the SDK gives a scope. */
function scopeFromRecord(sc: ScopeRecord | undefined): ReadableLogRecord['instrumentationScope'] {
  const scope = { name: sc?.n ?? '', version: sc?.v, schemaUrl: sc?.u };
  return sc?.a === undefined ? scope : { ...scope, attributes: decodeAttributes(sc) } as ReadableLogRecord['instrumentationScope'];
}

function hasKeys(object: object): boolean {
  try {
    for (const _ in object) return true;
  } catch {
    // A map whose keys cannot be read: nothing kept, as for any attribute that throws.
  }
  return false;
}
