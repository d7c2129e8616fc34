// The window's weight follows what it holds: what is taken or passed over stops counting.
// A window that only ever added (a review's mutant) still handed out every END, but sent a
// reader that keeps up to disk for good after a few ENDs: JournalTail's tests cannot tell.
import { expect, test } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { RecentEnds } from '../../src/journal/RecentEnds.js';

const span = (i: number) => ({ name: `s${i}` }) as unknown as ReadableSpan;

// In both, the window never empties (which would reset its weight): one END stays held.
test('a reader that keeps up, one END behind, is served from the window for ever, however many characters pass through it', () => {
  const window = new RecentEnds(100, 8000);
  window.push(span(0), undefined, 1, 2100, 2000);
  for (let i = 1; i < 1000; i++) {
    window.push(span(i), undefined, 1, (i + 1) * 2100, 2000);
    const taken = window.takeAfter({ segment: 1, offset: (i - 1) * 2100 }, 1);
    expect(taken?.map((entry) => entry.span?.name), `END ${i}`).toEqual([`s${i - 1}`]);
  }
});

test('ENDs the reader passed over (read from disk) stop counting too', () => {
  const window = new RecentEnds(100, 8000);
  for (let round = 0; round < 300; round++) {
    // Three ENDs of 2,000 characters: the reader has read the one left from the round
    // before and the first of these from disk, takes the second, and leaves the third.
    const first = round * 3;
    for (let i = 0; i < 3; i++) window.push(span(first + i), undefined, 1, (first + i + 1) * 2100, 2000);
    const taken = window.takeAfter({ segment: 1, offset: (first + 1) * 2100 }, 1);
    expect(taken?.map((entry) => entry.span?.name), `round ${round}`).toEqual([`s${first + 1}`]);
  }
});

test('past either bound it lets go of everything, and holds again once the reader has caught up', () => {
  const window = new RecentEnds(100, 5000);
  window.push(span(0), undefined, 1, 2100, 2000);
  window.push(span(1), undefined, 1, 4200, 2000);
  window.push(span(2), undefined, 1, 6300, 2000);
  expect(window.takeAfter({ segment: 1, offset: 0 }, 10)).toBeUndefined();
  // Read from disk up to the writer: caught up, the next END is held and taken.
  expect(window.takeAfter({ segment: 1, offset: 6300 }, 10)).toEqual([]);
  window.push(span(3), undefined, 1, 8400, 2000);
  expect(window.takeAfter({ segment: 1, offset: 6300 }, 10)?.map((entry) => entry.span?.name)).toEqual(['s3']);
});

test('a take stops at the END that reaches its characters (one at least), and the next take goes on from there with the weight kept right', () => {
  const window = new RecentEnds(100, 1_000_000);
  const chars = [300, 300, 500, 2000, 100, 100];
  let offset = 0;
  chars.forEach((weight, i) => window.push(span(i), undefined, 1, (offset += 1000), weight));
  const names = (taken: ReturnType<RecentEnds['takeAfter']>) => taken?.map((entry) => entry.span?.name);
  expect(names(window.takeAfter({ segment: 1, offset: 0 }, 10, 600))).toEqual(['s0', 's1']);
  expect(names(window.takeAfter({ segment: 1, offset: 2000 }, 10, 600))).toEqual(['s2', 's3']);
  expect(names(window.takeAfter({ segment: 1, offset: 4000 }, 1, 600))).toEqual(['s4']);
  expect(names(window.takeAfter({ segment: 1, offset: 5000 }, 10, 600))).toEqual(['s5']);
  // Emptied, its weight is 0 again: a window of 1,000 characters holds the next 900.
  const small = new RecentEnds(100, 1000);
  small.push(span(0), undefined, 1, 1000, 900);
  expect(names(small.takeAfter({ segment: 1, offset: 0 }, 10, 100))).toEqual(['s0']);
  small.push(span(1), undefined, 1, 2000, 900);
  small.push(span(2), undefined, 1, 3000, 100);
  expect(names(small.takeAfter({ segment: 1, offset: 1000 }, 10))).toEqual(['s1', 's2']);
});
