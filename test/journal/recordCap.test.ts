// A record too large for one frame is cut in one pass (recordCap.ts): the result always
// fits one frame, the record's own fields stay, a log line keeps its body before its
// attributes, and every key is kept as a key.
import { expect, test } from 'vitest';
import { MAX_PAYLOAD_BYTES } from '../../src/journal/frame.js';
import { cappedRecordJson } from '../../src/journal/recordCap.js';

const CJK = '漢';

test('an event whose name is long, after attributes that took the budget, still leaves the record within one frame', () => {
  // 3 UTF-8 bytes per character: attributes take all the room, then an event's fields came on top.
  const record = { t: 'ab'.repeat(16), s: 'cd'.repeat(8), n: 'span', st: [1, 2], a: { big: CJK.repeat(22_360_000) }, ev: [{ n: CJK.repeat(64 * 1024), t: [1, 2] }], l: [] };
  const json = cappedRecordJson(record);
  expect(Buffer.byteLength(json)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
  const parsed = JSON.parse(json);
  expect(parsed).toMatchObject({ t: record.t, s: record.s, n: 'span', st: [1, 2] });
  expect(parsed.a['otel_blackbox.truncated']).toBeGreaterThan(0);
});

test("a log line keeps its body when one attribute is larger than the frame", () => {
  const json = cappedRecordJson({ q: 7, t: [1, 2], o: [1, 2], a: { huge: 'x'.repeat(80 * 1024 * 1024) }, sc: { n: 'app' }, r: 1, tr: 'ab'.repeat(16), s: 'cd'.repeat(8), b: 'the line itself' });
  const parsed = JSON.parse(json);
  expect(parsed).toMatchObject({ q: 7, b: 'the line itself', tr: 'ab'.repeat(16), sc: { n: 'app' } });
  expect(parsed.a['otel_blackbox.truncated']).toBe(1);
});

test('an attribute named __proto__ stays a key', () => {
  const attributes = JSON.parse('{"__proto__": "kept", "big": "' + 'y'.repeat(1000) + '"}');
  const json = cappedRecordJson({ n: 'span', a: { ...attributes, huge: 'z'.repeat(70 * 1024 * 1024) } });
  expect(Object.keys(JSON.parse(json).a)).toContain('__proto__');
});
