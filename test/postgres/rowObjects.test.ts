// The objects the export side makes per span (rows, spans read back from the journal, their
// contexts and events, held ENDs) are class instances, never object literals: V8 may decide,
// from what survived a process's first scavenges, to allocate an object literal's site in
// the old generation ("pretenuring"), and such an object keeps every young object it refers
// to alive until a full collection. In bench/overload.mjs that happened to the row site in
// half the runs: ~170 MiB more promoted per 400,000 spans and a peak ~25 MiB higher. This
// guards the choice; the benchmark measures its effect.
import { resourceFromAttributes } from '@opentelemetry/resources';
import { expect, test } from 'vitest';
import { readableSpanFromRecord } from '../../src/journal/readableSpanFromRecord.js';
import { RECENT_ENDS_CHARS, RecentEnds } from '../../src/journal/RecentEnds.js';
import { SpanRowConverter } from '../../src/postgres/spanRows.js';
import { traceRows } from '../../src/postgres/traceRows.js';
import type { SpanEndRecord } from '../../src/journal/recordTypes.js';
import { traceOf } from './spanFixtures.js';

const isLiteral = (value: object) => Object.getPrototypeOf(value) === Object.prototype;

test('rows, trace rows, spans read back and held ENDs are not object literals', async () => {
  const [span] = await traceOf(1, 'shape');
  const row = new SpanRowConverter().toRow(span!);
  expect(isLiteral(row)).toBe(false);
  expect(row.events.length).toBeGreaterThan(0);
  expect(row.events.every((event) => !isLiteral(event))).toBe(true);
  expect(isLiteral(traceRows([row])[0]!)).toBe(false);

  const record: SpanEndRecord = {
    t: 'a'.repeat(32), s: 'b'.repeat(16), p: 'c'.repeat(16), f: 1, n: 'read back', k: 0, st: [1, 0], a: { x: 1 },
    sc: { n: 'scope' }, r: 1, et: [2, 0], sx: { c: 0 }, ev: [{ n: 'event', t: [1, 5] }], l: [], da: 0, de: 0, dl: 0,
  } as SpanEndRecord;
  const readBack = readableSpanFromRecord(record, resourceFromAttributes({}));
  expect(isLiteral(readBack)).toBe(false);
  expect(isLiteral(readBack.spanContext())).toBe(false);
  expect(isLiteral(readBack.parentSpanContext!)).toBe(false);
  expect(isLiteral(readBack.events[0]!)).toBe(false);
  // Spread copies stay whole spans (every field is the object's own).
  expect({ ...readBack }.spanContext().spanId).toBe('b'.repeat(16));

  const held = new RecentEnds(8, RECENT_ENDS_CHARS);
  held.push(span, undefined, 1, 100, 400);
  const [entry] = held.takeAfter({ segment: 1, offset: 0 }, 8)!;
  expect(entry!.span).toBe(span);
  expect(isLiteral(entry!)).toBe(false);
});
