// Small functions of the browser script the viewer ships, run on their own.
import { expect, test } from 'vitest';
import { scriptFunction } from './viewerScriptSource.js';

const formatNanos = scriptFunction<(ns: number | null) => string>('formatNanos');
const withoutMarkers = scriptFunction<(attributes: unknown, crashed: boolean) => Record<string, unknown>>('withoutMarkers', ['MARKERS', 'CRASH_MARKERS']);

// The unit is chosen after rounding ("1000.0 µs" was printed for 999,960 ns, "60.00 s" near
// a minute), and hours and days follow minutes ("in flight for 4320.0 min so far": a review).
test.each([
  [0, '0 ns'],
  [999, '999 ns'],
  [1_500, '1.50 µs'],
  [999_960, '1.00 ms'],
  [12_345_678, '12.3 ms'],
  [999_990_000, '1.00 s'],
  [59_999_000_000, '1.0 min'],
  [90_000_000_000, '1.5 min'],
  [2 * 3_600e9, '2.0 h'],
  [3 * 86_400e9, '3.0 d'],
  [-1_500, '-1.50 µs'],
  [null, '–'],
])('a duration of %s ns is "%s"', (ns, text) => {
  expect(formatNanos(ns)).toBe(text);
});

test('an attribute named __proto__ is listed like any other, and the markers are not', () => {
  // JSON.parse makes it an own key; copied into a plain object, it set the prototype instead and vanished.
  const attributes = JSON.parse('{"__proto__": "kept", "http.route": "/pay", "otel_blackbox.state": "crashed"}');
  const shown = withoutMarkers(attributes, false);
  expect(Object.keys(shown)).toEqual(['__proto__', 'http.route']);
  expect(shown['__proto__']).toBe('kept');
});
