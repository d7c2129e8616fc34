// Log record -> LOG payload and back. Encoding runs in onEmit, on the application's thread,
// so it builds one plain object for one JSON.stringify (recordJson). Bytes in a body or an
// attribute (AnyValue allows Uint8Array) would become {"0":..,"1":..} in JSON; they are
// written as {"$b": base64} and read back as Uint8Array.
import type { HrTime, SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { LogRecordPayload, ScopeRecord } from './recordTypes.js';
import { recordJson } from './spanRecords.js';

const BYTES_KEY = '$b';
const MAX_DEPTH = 32;

/** The journal payload of `record` as JSON, with its sequence number and resource record id. */
export function logRecordJson(record: ReadableLogRecord, sequence: number, resourceId: number): string {
  const scope = record.instrumentationScope;
  const sc: ScopeRecord = { n: scope.name };
  if (scope.version !== undefined) sc.v = scope.version;
  if (scope.schemaUrl !== undefined) sc.u = scope.schemaUrl;
  const payload: LogRecordPayload = { q: sequence, t: record.hrTime, o: record.hrTimeObserved, a: withBytesEncoded(record.attributes ?? {}) as LogRecordPayload['a'], sc, r: resourceId };
  const context = record.spanContext;
  if (context !== undefined) {
    payload.tr = context.traceId;
    payload.s = context.spanId;
    payload.f = context.traceFlags;
  }
  if (record.severityNumber !== undefined) payload.sn = record.severityNumber;
  if (record.severityText !== undefined) payload.sv = record.severityText;
  if (record.body !== undefined) payload.b = withBytesEncoded(record.body);
  if (record.eventName !== undefined) payload.e = record.eventName;
  if (record.droppedAttributesCount) payload.d = record.droppedAttributesCount;
  return recordJson(payload);
}

/** A ReadableLogRecord from a LOG payload, as the SDK would hand it to an exporter. */
export function readableLogFromRecord(payload: LogRecordPayload, resource: Resource): ReadableLogRecord {
  const spanContext: SpanContext | undefined =
    payload.tr !== undefined && payload.s !== undefined ? { traceId: payload.tr, spanId: payload.s, traceFlags: payload.f ?? 0 } : undefined;
  return {
    hrTime: payload.t as HrTime,
    hrTimeObserved: payload.o as HrTime,
    spanContext,
    severityNumber: payload.sn,
    severityText: payload.sv,
    body: payload.b === undefined ? undefined : (withBytesDecoded(payload.b) as ReadableLogRecord['body']),
    eventName: payload.e,
    resource,
    instrumentationScope: { name: payload.sc.n, version: payload.sc.v, schemaUrl: payload.sc.u },
    attributes: withBytesDecoded(payload.a) as ReadableLogRecord['attributes'],
    droppedAttributesCount: payload.d ?? 0,
  };
}

// Only arrays and plain objects are walked, and returned as they are when they hold no
// bytes: a body is usually a string, attributes usually flat primitives.
function withBytesEncoded(value: unknown, depth = 0): unknown {
  if (value instanceof Uint8Array) return { [BYTES_KEY]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    if (!value.some(isObject)) return value;
    return value.map((item) => withBytesEncoded(item, depth + 1));
  }
  const entries = Object.entries(value);
  if (!entries.some(([, item]) => isObject(item))) return value;
  return Object.fromEntries(entries.map(([key, item]) => [key, withBytesEncoded(item, depth + 1)]));
}

function withBytesDecoded(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.some(isObject) ? value.map((item) => withBytesDecoded(item, depth + 1)) : value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === BYTES_KEY && typeof (value as Record<string, unknown>)[BYTES_KEY] === 'string') {
    return new Uint8Array(Buffer.from((value as Record<string, string>)[BYTES_KEY]!, 'base64'));
  }
  if (!keys.some((key) => isObject((value as Record<string, unknown>)[key]))) return value;
  return Object.fromEntries(keys.map((key) => [key, withBytesDecoded((value as Record<string, unknown>)[key], depth + 1)]));
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}
