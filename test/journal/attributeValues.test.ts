// An END reuses its START's attribute JSON only while unchangedSince() says the keys and
// values are those the START's snapshot holds.
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { attributesSnapshot, encodeAttributes, unchangedSince } from '../../src/journal/attributeValues.js';
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

