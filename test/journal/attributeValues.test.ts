// An END reuses its START's attribute JSON only while unchangedSince() says the keys and
// values are those the START's snapshot holds.
import { describe, expect, test } from 'vitest';
import { attributesSnapshot, unchangedSince } from '../../src/journal/attributeValues.js';

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
