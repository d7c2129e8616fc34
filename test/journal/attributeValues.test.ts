// An END reuses its START's attribute JSON only while unchangedSince() says the keys and
// values are those the START's snapshot holds.
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { attributesSnapshot, decodeAttributes, encodeAttributes, unchangedSince } from '../../src/journal/attributeValues.js';
import { MAX_VALUES, TOO_LARGE } from '../../src/valueLimits.js';
import { toJsonText } from '../../src/postgres/sanitize.js';

describe('unchangedSince', () => {
  test('same keys and values in the same order: unchanged; any difference: changed', () => {
    const attributes: Record<string, unknown> = { a: 1, b: 'x', c: null };
    const snapshot = attributesSnapshot(attributes)!;
    expect(unchangedSince(attributes, snapshot)).toBe(true);
    expect(unchangedSince({ ...attributes }, snapshot)).toBe(true);
    expect(unchangedSince({ ...attributes, b: 'y' }, snapshot)).toBe(false);
    expect(unchangedSince({ ...attributes, d: 1 }, snapshot)).toBe(false);
    expect(unchangedSince({ a: 1, b: 'x' }, snapshot)).toBe(false);
    expect(unchangedSince({ b: 'x', a: 1, c: null }, snapshot)).toBe(false);
    expect(unchangedSince({ x: 1, b: 'x', c: null }, snapshot)).toBe(false);
  });

  test('no snapshot of attributes that hold an array (it can change inside) or are not plain', () => {
    expect(attributesSnapshot({ list: ['a'] })).toBeUndefined();
    expect(attributesSnapshot({ nan: Number.NaN })).toBeUndefined();
    expect(attributesSnapshot(Object.assign(Object.create(null), { a: 1 }))).toBeUndefined();
    expect(
      attributesSnapshot({
        get thrower(): string {
          throw new Error('no');
        },
      }),
    ).toBeUndefined();
  });

  test('an inherited enumerable key reads as a change', () => {
    const attributes = { a: 1 };
    const snapshot = attributesSnapshot(attributes)!;
    (Object.prototype as Record<string, unknown>).polluted = 'x';
    try {
      expect(unchangedSince(attributes, snapshot)).toBe(false);
    } finally {
      delete (Object.prototype as Record<string, unknown>).polluted;
    }
    expect(unchangedSince(attributes, snapshot)).toBe(true);
  });
});

describe('an Error as a value', () => {
  /** What the journal stores of `value` (as an attribute), and what the exporter stores of it live: the same JSON. */
  const bothWays = (value: unknown) => {
    const journaled = JSON.parse(JSON.stringify(encodeAttributes({ v: value as never }).a)).v;
    expect(JSON.parse(toJsonText(value))).toEqual(journaled);
    return journaled;
  };

  test('is its name, message, stack, cause and own enumerable fields, not {}', () => {
    const error = Object.assign(new Error('boom', { cause: 'the disk' }), { code: 'EIO' });
    expect(bothWays(error)).toEqual({ name: 'Error', message: 'boom', stack: error.stack, cause: 'the disk', code: 'EIO' });
    expect(bothWays({ nested: [new TypeError('inner')] })).toMatchObject({ nested: [{ name: 'TypeError', message: 'inner' }] });
  });

  test("of a subclass, an AggregateError, another realm's, one without a stack, one whose getter throws", () => {
    class PaymentError extends Error {
      override name = 'PaymentError';
      constructor(readonly orderId: string) {
        super(`order ${orderId} declined`);
      }
    }
    expect(bothWays(new PaymentError('o-1'))).toMatchObject({ name: 'PaymentError', message: 'order o-1 declined', orderId: 'o-1' });
    expect(bothWays(new AggregateError([new Error('a')], 'all failed'))).toMatchObject({ message: 'all failed', errors: [{ message: 'a' }] });
    expect(bothWays(runInNewContext("new SyntaxError('elsewhere')"))).toMatchObject({ name: 'SyntaxError', message: 'elsewhere' });
    const bare = new Error('no stack');
    delete bare.stack;
    expect(bothWays(bare)).toEqual({ name: 'Error', message: 'no stack' });
    const hostile = Object.defineProperty(new Error('hostile'), 'detail', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    expect(bothWays(hostile)).toMatchObject({ message: 'hostile', detail: '[Unserializable]' });
  });

  test('keeps its toJSON when it has one, as JSON.stringify would', () => {
    const error = Object.assign(new Error('with toJSON'), { toJSON: () => ({ summary: 'mine' }) });
    expect(bothWays(error)).toEqual({ summary: 'mine' });
  });
});

/**
 * The journal's copy as an exporter reads it back (its JSON parsed, as readableSpanFromRecord
 * has it, so the exporter's fast path sees it as it would), and the exporter's own JSON of
 * the live value: the same.
 */
function bothSides(value: unknown): unknown {
  const journal = toJsonText(decodeAttributes(JSON.parse(JSON.stringify(encodeAttributes({ v: value } as never))) as never));
  expect(toJsonText({ v: value })).toBe(journal);
  return (JSON.parse(journal) as { v: unknown }).v;
}

describe('a Map as a value', () => {
  test('is an object while its keys read apart as object keys', () => {
    expect(bothSides(new Map<unknown, unknown>([['a', 1], ['b', { c: 2 }]]))).toEqual({ a: 1, b: { c: 2 } });
    expect(bothSides(new Map<unknown, unknown>([[1, 'one'], [2n, 'two'], [true, 'yes'], [null, 'none']]))).toEqual({ 1: 'one', 2: 'two', true: 'yes', null: 'none' });
  });

  test('whose keys read alike, or include an object or a symbol, is the list of its [key, value] pairs: no entry lost', () => {
    // As an object: {"1":"string one"}, {"[object Object]":"second"}, {"NaN":"text"}, and {"k":"v"} (the symbol key left out).
    expect(bothSides(new Map<unknown, unknown>([[1, 'number one'], ['1', 'string one']]))).toEqual([[1, 'number one'], ['1', 'string one']]);
    expect(bothSides(new Map<unknown, unknown>([[{ id: 1 }, 'first'], [{ id: 2 }, 'second']]))).toEqual([[{ id: 1 }, 'first'], [{ id: 2 }, 'second']]);
    expect(bothSides(new Map<unknown, unknown>([[Number.NaN, 'not a number'], ['NaN', 'text']]))).toEqual([['NaN', 'not a number'], ['NaN', 'text']]);
    expect(bothSides(new Map<unknown, unknown>([[Symbol('s'), 'symbol'], ['k', 'v']]))).toEqual([['Symbol(s)', 'symbol'], ['k', 'v']]);
    // A key that cannot be made text (no prototype, a throwing toString) takes no other entry with it.
    expect(bothSides(new Map<unknown, unknown>([[Object.create(null), 'x'], ['ok', 'kept']]))).toEqual([[{}, 'x'], ['ok', 'kept']]);
    // Past the limit, the list ends with its marker: 150,000 object keys were one entry, unmarked.
    const many = bothSides(new Map(Array.from({ length: 150_000 }, (_, i) => [{ i }, i]))) as unknown[];
    expect(many.length).toBeLessThan(MAX_VALUES);
    expect(many[1]).toEqual([{ i: 1 }, 1]);
    expect(many.at(-1)).toBe(TOO_LARGE);
    const cyclic = new Map<unknown, unknown>();
    cyclic.set(cyclic, 'itself');
    expect(bothSides(cyclic)).toEqual([['[Circular]', 'itself']]);
  });
});

describe('an ArrayBuffer and a boxed primitive as values', () => {
  test('an ArrayBuffer is its bytes, read back from the journal as bytes (it was {})', () => {
    const buffer = new Uint8Array([1, 2, 3]).buffer;
    expect(bothSides(buffer)).toBe('AQID');
    expect(bothSides({ body: new SharedArrayBuffer(2) })).toEqual({ body: 'AAA=' });
    expect(decodeAttributes(encodeAttributes({ v: buffer } as never)).v).toEqual(new Uint8Array([1, 2, 3]));
  });

  test('a boxed primitive is the primitive, as JSON.stringify has it (a String was a map of its characters, a Number {})', () => {
    expect(bothSides(new String('abc'))).toBe('abc');
    expect(bothSides(new Number(5))).toBe(5);
    expect(bothSides([new Boolean(false), Object(12n), Object(Symbol('s')), new Number(Number.NaN)])).toEqual([false, '12', 'Symbol(s)', 'NaN']);
  });
});

describe('values large by count (review F2: a typed array or a sparse array made emit() take seconds to minutes)', () => {
  test('a typed array is the list of its numbers; a DataView is bytes, like a Uint8Array', () => {
    expect(bothSides(new Float64Array([1.5, 2, Number.NaN]))).toEqual([1.5, 2, 'NaN']);
    expect(bothSides(new BigInt64Array([1n, -2n]))).toEqual(['1', '-2']);
    expect(bothSides(new Int16Array([-3, 7]))).toEqual([-3, 7]);
    const encoded = encodeAttributes({ view: new DataView(new Uint8Array([9, 1, 2, 3, 9]).buffer, 1, 3) } as never);
    expect(encoded).toEqual({ a: { view: 'AQID' }, ab: [['view']] });
    expect(decodeAttributes(encoded).view).toEqual(new Uint8Array([1, 2, 3]));
  });

  test('a list or map past MAX_VALUES ends with one "[Too large]", however long it says it is', () => {
    const floats = bothSides(new Float64Array(1_000_000).map((_, i) => i)) as unknown[];
    expect(floats.length).toBeLessThanOrEqual(MAX_VALUES + 1);
    expect(floats.slice(0, 3)).toEqual([0, 1, 2]);
    expect(floats.at(-1)).toBe(TOO_LARGE);
    // Holes are null, as JSON.stringify writes them; a length of 1e8 is not walked.
    const sparse = bothSides(Object.assign([], { length: 100_000_000 })) as unknown[];
    expect(sparse.length).toBeLessThanOrEqual(MAX_VALUES + 1);
    expect(sparse.at(0)).toBeNull();
    expect(sparse.at(-1)).toBe(TOO_LARGE);
    const map = bothSides(new Map(Array.from({ length: 300_000 }, (_, i) => [`k${i}`, i]))) as Record<string, unknown>;
    const keys = Object.keys(map);
    expect(keys.length).toBeLessThanOrEqual(MAX_VALUES + 1);
    expect(map.k0).toBe(0);
    expect(map[keys.at(-1)!]).toBe(TOO_LARGE);
    const set = bothSides(new Set(Array.from({ length: 300_000 }, (_, i) => i))) as unknown[];
    expect(set.at(-1)).toBe(TOO_LARGE);
    expect(set.length).toBeLessThanOrEqual(MAX_VALUES + 1);
    // A flat list of plain numbers past the limit is cut too, not copied whole by the fast path.
    const plain = bothSides(Array.from({ length: 200_000 }, (_, i) => i)) as unknown[];
    expect(plain.at(-1)).toBe(TOO_LARGE);
  });

  test('at the limit, the two sides count alike: the map itself, a toJSON value as one, a list cut at one place (a review found each off by one)', () => {
    for (const value of [
      new Set(Array.from({ length: MAX_VALUES + 5 }, (_, i) => i)),
      new Uint16Array(2_000_000),
      Object.assign([], { length: MAX_VALUES * 3 }),
      Array.from({ length: MAX_VALUES }, (_, i) => new Date(i)),
      Array.from({ length: MAX_VALUES - 2 }, (_, i) => i),
      Array.from({ length: MAX_VALUES - 1 }, (_, i) => i),
      Array.from({ length: MAX_VALUES + 1 }, (_, i) => i),
    ]) {
      const stored = bothSides(value) as unknown[];
      const marks = stored.filter((item) => item === TOO_LARGE).length;
      expect(marks).toBeLessThanOrEqual(1);
    }
  });

  test('a flat attribute map past MAX_VALUES, or lists that pass it together, end with one "[Too large]" on both sides (were stored whole)', () => {
    // The map itself: a span's attributes of a million keys (spanLimits set to Infinity).
    const flat = Object.fromEntries(Array.from({ length: 150_000 }, (_, i) => [`k${i}`, i]));
    const journal = JSON.parse(toJsonText(decodeAttributes(JSON.parse(JSON.stringify(encodeAttributes(flat as never))) as never))) as Record<string, unknown>;
    expect(toJsonText(flat)).toBe(JSON.stringify(journal));
    const keys = Object.keys(journal);
    expect(keys.length).toBeLessThanOrEqual(MAX_VALUES + 1);
    expect(journal[keys.at(-1)!]).toBe(TOO_LARGE);
    // Three lists of 40,000 in one map: each within the limit, 120,000 together.
    const lists = bothSides(Object.fromEntries(['a', 'b', 'c'].map((key) => [key, Array.from({ length: 40_000 }, (_, i) => i)]))) as Record<string, unknown[]>;
    expect(lists.a).toHaveLength(40_000);
    expect(JSON.stringify(lists)).toContain(TOO_LARGE);
  });

  test('a list within the limit is whole, with no mark', () => {
    expect(bothSides(Array.from({ length: 1000 }, (_, i) => i))).toHaveLength(1000);
    expect(bothSides(new Uint16Array(5000))).toHaveLength(5000);
  });
});
