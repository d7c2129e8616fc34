// The binary arrays the statements send, read back by a real server.
import { afterAll, describe, expect, it } from 'vitest';
import { booleanArray, integerArray, jsonbArray, textArray, unixNanoArray } from '../../src/postgres/binaryArray.js';
import { ParameterArena } from '../../src/postgres/ParameterArena.js';
import { toUnixNano, unixNanoText, type UnixNano } from '../../src/postgres/unixNano.js';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();
/** The arrays of the tests that do not look at the arena itself. */
const arena = new ParameterArena();

afterAll(async () => {
  await db.close();
});

describe('binary arrays', () => {
  it('carry nanosecond times exactly, across word boundaries and before 1970', async () => {
    const times: (UnixNano | null)[] = [
      [0, 0],
      [1, 999_999_999],
      [65_535, 999_999_999],
      [65_536, 0],
      [1_763_790_123, 456_789_123],
      [4_294_967_295, 999_999_999], // the last second written without BigInt
      [4_294_967_296, 1],
      [-1, 500_000_000],
      null,
      toUnixNano([1_700_000_000.5, 250]), // a hand-built fractional HrTime
    ];
    const [row] = await db.query<{ values: (string | null)[] }>('SELECT $1::bigint[] AS values', [unixNanoArray(times, arena)]);
    expect(row!.values).toEqual(times.map((t) => (t === null ? null : unixNanoText(t))));
    expect(row!.values[9]).toBe('1700000000500000250');
  });

  it('carry text, JSON, integers and booleans with NULLs and multi-byte characters', async () => {
    const [row] = await db.query(
      'SELECT $1::text[] AS texts, $2::jsonb[] AS documents, $3::int[] AS integers, $4::boolean[] AS booleans',
      [
        textArray(['plain', null, 'é€😀', '', '"quoted" \\ back\nslash'], arena),
        jsonbArray(['{"a":[1,"ü"]}', null], arena),
        integerArray([0, -1, 2_147_483_647, null], arena),
        booleanArray([true, false, null], arena),
      ],
    );
    expect(row).toEqual({
      texts: ['plain', null, 'é€😀', '', '"quoted" \\ back\nslash'],
      documents: [{ a: [1, 'ü'] }, null],
      integers: [0, -1, 2_147_483_647, null],
      booleans: [true, false, null],
    });
  });

  it('carry short strings written by the ASCII loop, and those it hands back at their first non-ASCII character', async () => {
    // Short strings are written by a loop while ASCII (binaryArray.ts: SHORT_STRING_UNITS,
    // 48); one that meets a character past it is written again whole by Buffer's encoder.
    const texts = [
      'a'.repeat(47),
      'b'.repeat(48),
      'c'.repeat(49),
      `${'d'.repeat(40)}é`,
      `${'e'.repeat(47)}😀`,
      'ü',
      `${'f'.repeat(20)}\u007f${'g'.repeat(5)}`,
      `${'h'.repeat(10)}€${'i'.repeat(30)}`,
      '',
    ];
    const [row] = await db.query<{ texts: string[]; bytes: number[] }>(
      'SELECT $1::text[] AS texts, array(SELECT octet_length(t) FROM unnest($1::text[]) t) AS bytes',
      [textArray(texts, arena)],
    );
    expect(row!.texts).toEqual(texts);
    expect(row!.bytes).toEqual(texts.map((t) => Buffer.byteLength(t)));
  });

  it('in a batch\'s arena, keep their bytes until it is released, and its blocks then serve the next batch', async () => {
    const arena = new ParameterArena();
    const names = Array.from({ length: 3000 }, (_, i) => `span-${i}-é`);
    const texts = textArray(names, arena);
    const copy = Buffer.from(texts);
    const integers = integerArray(names.map((_, i) => i), arena);
    const times = unixNanoArray(names.map((_, i) => [1_700_000_000 + i, i] as UnixNano), arena);
    const big = textArray(['x'.repeat(600_000), 'y'.repeat(600_000)], arena); // past one block
    expect(texts.equals(copy)).toBe(true);
    expect(integers.buffer).toBe(texts.buffer);
    const [row] = await db.query('SELECT $1::text[] AS t, $2::int[] AS i, $3::bigint[] AS n, array_length($4::text[], 1) AS b', [texts, integers, times, big]);
    expect(row.t).toEqual(names);
    expect(row.i).toEqual(names.map((_, i) => i));
    expect(row.n[2999]).toBe(unixNanoText([1_700_002_999, 2999]));
    expect(row.b).toBe(2);
    arena.release();
    const next = new ParameterArena();
    const reused = integerArray([1, 2, 3], next);
    expect([texts.buffer, big.buffer]).toContain(reused.buffer);
    next.release();
  });

  it('carry an array larger than the reusable scratch buffer', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024);
    const [row] = await db.query<{ lengths: number[] }>('SELECT array(SELECT length(v) FROM unnest($1::text[]) v) AS lengths', [
      textArray([big, 'y', big], arena),
    ]);
    expect(row!.lengths).toEqual([big.length, 1, big.length]);
  });

  it('writes every element at its length when more than 2 GiB of room follow it', () => {
    // Buffer#write without a length writes nothing (returns 0) into a buffer with more
    // than 2^31 - 1 bytes after the offset (Node 20): a batch whose column reserved that
    // much stored every string in it empty, and reported success. An arena that hands out
    // such room for any array (allocUnsafe: the pages are never touched) shows it.
    const roomy = { reserve: () => Buffer.allocUnsafe(2 ** 31 + 4096), commit: (buffer: Buffer, length: number) => buffer.subarray(0, length) } as unknown as ParameterArena;
    const values = ['x'.repeat(1_500_000), 'boom', 'ünï'];
    const array = textArray(values, roomy);
    const lengths: number[] = [];
    for (let offset = 20, i = 0; i < values.length; i++) {
      const length = array.readInt32BE(offset);
      lengths.push(length);
      expect(array.toString('utf8', offset + 4, offset + 4 + length)).toBe(values[i]);
      offset += 4 + length;
    }
    expect(lengths).toEqual([1_500_000, 4, 5]);
  });
});
