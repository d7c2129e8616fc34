// shortJsonSql: a jsonb value as stored up to its character limit, type and all; past it, its
// first characters as a string that ends in the mark, the limit in all.
import { afterAll, describe, expect, test } from 'vitest';
import { shortJsonSql } from '../../src/postgres/shortJson.js';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();
afterAll(async () => {
  await db.close();
});

async function short(value: unknown, maxChars: number): Promise<unknown> {
  const [row] = await db.query<{ v: unknown }>(`SELECT ${shortJsonSql('j', maxChars, 'cut')} AS v FROM (SELECT $1::jsonb AS j) AS t`, [JSON.stringify(value)]);
  return row!.v;
}

describe('shortJsonSql', () => {
  test('keeps a value within the limit as it is, an object as an object, however large it is stored', async () => {
    const object = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`key${i}`, `value ${i}`]));
    expect(JSON.stringify(object).length).toBeGreaterThan(4000);
    expect(await short(object, 10_000)).toEqual(object);
    expect(await short('x'.repeat(100), 100)).toBe('x'.repeat(100));
    expect(await short([1, 'two', null], 100)).toEqual([1, 'two', null]);
    expect(await short(null, 100)).toBeNull();
  });

  test('cuts a longer value to the limit, the mark included: a string by its text, anything else by its JSON', async () => {
    const cut = (await short('x'.repeat(101), 100)) as string;
    expect(cut).toHaveLength(100);
    expect(cut).toBe(`${'x'.repeat(100 - '… (cut)'.length)}… (cut)`);
    const object = (await short({ key: 'y'.repeat(200) }, 100)) as string;
    expect(object).toMatch(/^\{"key": "y+… \(cut\)$/);
    expect(object).toHaveLength(100);
  });
});
