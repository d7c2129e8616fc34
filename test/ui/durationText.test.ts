// Durations as the viewer writes them, run from the script it ships (VIEWER_SCRIPT): the
// unit chosen after rounding ("1000.0 µs" was printed for 999,960 ns, "60.00 s" near a
// minute), and hours and days past an hour ("in flight for 4320.0 min so far": a review).
import { expect, test } from 'vitest';
import { VIEWER_SCRIPT } from '../../src/ui/viewerScript.js';

function functionSource(name: string): string {
  const start = VIEWER_SCRIPT.indexOf(`function ${name}(`);
  let depth = 0;
  for (let at = VIEWER_SCRIPT.indexOf('{', start); at < VIEWER_SCRIPT.length; at++) {
    if (VIEWER_SCRIPT[at] === '{') depth++;
    else if (VIEWER_SCRIPT[at] === '}' && --depth === 0) return VIEWER_SCRIPT.slice(start, at + 1);
  }
  throw new Error(`no function ${name} in the viewer script`);
}

const formatNanos = new Function(`${functionSource('formatNanos')}\nreturn formatNanos;`)() as (ns: number | null) => string;

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
])('%s ns is "%s"', (ns, text) => {
  expect(formatNanos(ns)).toBe(text);
});
