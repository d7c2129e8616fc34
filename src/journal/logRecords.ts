// Log record -> LOG payload and back. Encoding runs in onEmit, on the application's thread,
// so it builds one plain object for one JSON.stringify (recordJson). Attributes and the
// body (any AnyValue: bytes, maps, null) go through the journal's attribute encoding
// (attributeValues.ts): bytes stored as base64 with their places listed, read back as
// Uint8Array; the body travels as the one attribute `b` of its own small map.
import type { Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import { decodeAttributes, encodeAttributes, putAttributes, type EncodedAttributes } from './attributeValues.js';
import { safeDiag } from '../safeDiag.js';
import { scopeAttributes } from '../scopeAttributes.js';
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
  const journaled = journaledScopeAttributes(scope);
  if (journaled !== undefined) {
    sc.a = journaled.a;
    if (journaled.ab !== undefined) sc.ab = journaled.ab;
  }
  const payload: LogRecordPayload = { q: sequence, t: record.hrTime, o: record.hrTimeObserved, a: {}, sc, r: resourceId };
  putAttributes(payload, record.attributes as Attributes);
  // A copy of the scope's attributes too (bytes, kept by reference, filled again after emit()).
  // Left out (too large), the exporter gets the record as journaled, without them, as one
  // read back does: handed on as the application's, live rows kept them and rows of a
  // backlog or a recovery had none.
  let copied =
    (record.attributes !== undefined && record.attributes !== null && payload.a !== record.attributes) ||
    journaled?.copied === true ||
    (journaled === undefined && scopeAttributes(scope) !== undefined);
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

/**
 * Most of a scope's attributes a LOG repeats: each record carries its scope's, and a large
 * map made every line that large (a review: 1 MB of them, 50 lines, 52 MB of journal), and
 * one past a frame made the record unreadable, lost without a count.
 */
const MAX_SCOPE_ATTRIBUTES_CHARS = 4096;

/** A scope's attributes as its LOGs journal them, encoded once per scope; null: none, or too large. */
const scopeAttributesOf = new WeakMap<object, (EncodedAttributes & { copied: boolean }) | null>();

/**
 * A logger's scope attributes (`getLogger(name, version, { attributes })`), as journaled:
 * lost before, live and read back alike (a differential review on the 3.x line: two
 * loggers told apart by them gave one scope). Left out, and said once, past
 * MAX_SCOPE_ATTRIBUTES_CHARS of JSON.
 */
function journaledScopeAttributes(scope: ReadableLogRecord['instrumentationScope']): (EncodedAttributes & { copied: boolean }) | undefined {
  let encoded = scopeAttributesOf.get(scope);
  if (encoded === undefined) {
    const attributes = scopeAttributes(scope);
    encoded = null;
    if (attributes !== undefined) {
      const copy = encodeAttributes(attributes);
      const chars = JSON.stringify(copy.a).length;
      if (chars <= MAX_SCOPE_ATTRIBUTES_CHARS) encoded = { ...copy, copied: copy.a !== attributes };
      else safeDiag.warn(`otel-blackbox: the scope attributes of logger ${JSON.stringify(scope.name)} take ${chars} characters of JSON, more than ${MAX_SCOPE_ATTRIBUTES_CHARS}: its log records are journaled and exported without them`);
    }
    scopeAttributesOf.set(scope, encoded);
  }
  return encoded ?? undefined;
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

/**
 * The scope of a LOG payload: its attributes only where it has them, as the SDK gives a
 * scope. Bytes are decoded in a copy: a payload's `sc.a` is its logger's, shared by every
 * record of it (journaledScopeAttributes); decoded in place, the next records were written
 * with the decoded bytes where base64 belongs.
 */
function scopeFromRecord(sc: ScopeRecord | undefined): ReadableLogRecord['instrumentationScope'] {
  const scope = { name: sc?.n ?? '', version: sc?.v, schemaUrl: sc?.u };
  if (sc?.a === undefined) return scope;
  const encoded = sc.ab === undefined ? sc : { a: JSON.parse(JSON.stringify(sc.a)) as Attributes, ab: sc.ab };
  return { ...scope, attributes: decodeAttributes(encoded) } as ReadableLogRecord['instrumentationScope'];
}

