// A logger's scope attributes are encoded once per scope and shared by its records' payloads
// (logRecords.ts). Reading a payload back (as the writer does for a record copied with care)
// decoded their bytes in place, in the shared copy: every later record of that logger was
// journaled with {"0":1,"1":2} where base64 belongs, and read back wrong after a crash.
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { expect, test } from 'vitest';
import { logRecordPayload, readableLogFromRecord } from '../../src/journal/logRecords.js';
import type { LogRecordPayload } from '../../src/journal/recordTypes.js';

const resource = resourceFromAttributes({ 'service.name': 'scope-bytes' });
const scope = { name: 'payments', version: '1.0', attributes: { key: new Uint8Array([1, 2]), tenant: 'acme' } };

function record(body: string): ReadableLogRecord {
  return { hrTime: [1, 0], hrTimeObserved: [1, 0], body, resource, instrumentationScope: scope, attributes: {}, droppedAttributesCount: 0 } as unknown as ReadableLogRecord;
}

test('reading one record back leaves the scope attributes of the next as the journal must write them', () => {
  const first = logRecordPayload(record('first'), 1, 0);
  expect(first.copied).toBe(true);
  const readBack = readableLogFromRecord(first.payload, resource);
  expect((readBack.instrumentationScope as { attributes?: Record<string, unknown> }).attributes).toEqual({ key: new Uint8Array([1, 2]), tenant: 'acme' });
  const second = logRecordPayload(record('second'), 2, 0);
  const written = JSON.parse(JSON.stringify(second.payload)) as LogRecordPayload;
  expect(written.sc!.a).toEqual({ key: 'AQI=', tenant: 'acme' });
  const recovered = readableLogFromRecord(written, resource);
  expect((recovered.instrumentationScope as { attributes?: Record<string, unknown> }).attributes).toEqual({ key: new Uint8Array([1, 2]), tenant: 'acme' });
});

// Past MAX_SCOPE_ATTRIBUTES_CHARS they are left out of the journal; the record was still
// handed on as the application's, with them, while one read back (a backlog, a recovery)
// had none: the same logger's rows kept them live and lost them after an outage (a review).
test('scope attributes too large to journal are left out of what the exporter gets too, as from a record read back', () => {
  const bulky = { name: 'bulky', version: '1', attributes: { blob: 'z'.repeat(5000) } };
  const plain = { hrTime: [1, 0], hrTimeObserved: [1, 0], body: 'from bulky', resource, instrumentationScope: bulky, attributes: {}, droppedAttributesCount: 0 } as unknown as ReadableLogRecord;
  const { payload, copied } = logRecordPayload(plain, 1, 0);
  expect(payload.sc).toEqual({ n: 'bulky', v: '1' });
  // Copied: the writer hands on the record read from its payload, not the application's.
  expect(copied).toBe(true);
  expect((readableLogFromRecord(payload, resource).instrumentationScope as { attributes?: unknown }).attributes).toBeUndefined();
});
