// The open-span table against a Map, the behaviour it replaces: the same answers to every
// get, delete and size, and the same start order, over random operations that wrap the
// probe runs around the slot array, grow it, and empty it again.
import { describe, expect, it } from 'vitest';
import { OpenSpanTable } from '../../src/journal/OpenSpanTable.js';
import { seededRandom } from '../helpers/seededRandom.js';

describe('OpenSpanTable', () => {
  it('answers as a Map does over random starts and ends, in start order', () => {
    for (const seed of [1, 2, 3, 4]) {
      const next = seededRandom(seed);
      const table = new OpenSpanTable<number>();
      const model = new Map<string, number>();
      // Few distinct ids, so the same id comes back (another value under the same ids is
      // another span, started now: it goes to the end), and span ids shared by three
      // traces, which must stay apart.
      const spanIds = Array.from({ length: 100 }, (_, i) => `${(i * 2654435761) >>> 0}`.padStart(16, '0'));
      const traceIds = ['a', 'b', 'c'].map((letter) => letter.repeat(32));
      const ids = traceIds.flatMap((traceId) => spanIds.map((spanId) => [traceId, spanId] as const));
      const keyOf = ([traceId, spanId]: readonly [string, string]) => `${traceId}/${spanId}`;
      for (let step = 0; step < 20_000; step++) {
        const id = ids[Math.floor(next() * ids.length)];
        // Phases: mostly starts (the table grows), then mostly ends (it empties).
        const startBias = Math.floor(step / 2500) % 2 === 0 ? 0.7 : 0.3;
        if (next() < startBias) {
          table.set(...id, step, step % 1000);
          model.delete(keyOf(id));
          model.set(keyOf(id), step);
        } else {
          expect(table.delete(...id)).toBe(model.delete(keyOf(id)));
        }
        expect(table.get(...id)).toBe(model.get(keyOf(id)));
        expect(table.size).toBe(model.size);
        if (step % 97 === 0) expect([...table.values()]).toEqual([...model.values()]);
      }
      expect([...table.values()]).toEqual([...model.values()]);
      for (const id of ids) expect(table.get(...id)).toBe(model.get(keyOf(id)));
      // Every entry kept the mark it was last set with, through growing and shrinking.
      const marks: number[] = [];
      table.remark((value, mark) => {
        marks.push(mark);
        return mark + 1;
      });
      expect(marks).toEqual([...model.values()].map((step) => step % 1000));
      for (const mark of marks) expect(table.hasMark(mark + 1)).toBe(true);
      expect(table.hasMark(-1)).toBe(false);
      const remarked: Array<[number, number]> = [];
      table.forEachMark((value, mark) => remarked.push([value, mark]));
      expect(remarked).toEqual([...model.values()].map((step, i) => [step, marks[i]! + 1]));
    }
  });

  it('reads each entry once from its bookmark, in start order, whatever ends, starts or starts again under the same ids meanwhile', () => {
    for (const seed of [5, 6, 7]) {
      const next = seededRandom(seed);
      const table = new OpenSpanTable<number>();
      // The model: entries in start order, and which of them the reader has read.
      const order: string[] = [];
      const values = new Map<string, number>();
      const read = new Set<string>();
      const ids = Array.from({ length: 60 }, (_, i) => ['t'.repeat(32), `${i}`.padStart(16, '0')] as const);
      const keyOf = ([traceId, spanId]: readonly [string, string]) => `${traceId}/${spanId}`;
      for (let step = 0; step < 20_000; step++) {
        const id = ids[Math.floor(next() * ids.length)]!;
        const key = keyOf(id);
        const roll = next();
        if (roll < 0.4) {
          // A start, or another span under ids already open: at the end, unread. The same
          // value set again (a mark changed) keeps its place and stays read.
          const same = values.has(key) && next() < 0.3;
          const value = same ? values.get(key)! : step;
          table.set(...id, value, step % 7);
          if (!same) {
            if (values.has(key)) order.splice(order.indexOf(key), 1);
            order.push(key);
            read.delete(key);
            values.set(key, value);
          }
        } else if (roll < 0.7) {
          table.delete(...id);
          if (values.delete(key)) order.splice(order.indexOf(key), 1);
          read.delete(key);
        } else {
          const unread = order.find((k) => !read.has(k));
          expect(table.afterBookmark()).toBe(unread === undefined ? undefined : values.get(unread));
          if (unread !== undefined && next() < 0.8) {
            table.advanceBookmark();
            read.add(unread);
          }
        }
        // Everything read comes before everything unread: the bookmark is one place.
        const firstUnread = order.findIndex((k) => !read.has(k));
        if (firstUnread >= 0) expect(order.slice(firstUnread).every((k) => !read.has(k))).toBe(true);
      }
    }
  });

  it('gives back the room a burst grew it to, keeping entries, start order, marks and the bookmark', () => {
    const table = new OpenSpanTable<number>();
    const trace = (i: number) => i.toString(16).padStart(32, '0');
    const span = (i: number) => (i * 7).toString(16).padStart(16, '0');
    for (let i = 0; i < 100_000; i++) table.set(trace(i), span(i), i, i % 13);
    expect(table.capacity).toBe(131_072);
    // Not while more than an eighth is used: a table that is shrunk only to grow again costs twice.
    for (let i = 0; i < 80_000; i++) table.delete(trace(i), span(i));
    expect(table.shrinkIfSparse()).toBe(false);
    // The reader has read up to entry 99,000; the survivors are every 100th from 80,000 on.
    for (let i = 80_000; i <= 99_000; i++) table.afterBookmark() === undefined || table.advanceBookmark();
    for (let i = 80_000; i < 100_000; i++) if (i % 100 !== 0) table.delete(trace(i), span(i));
    const survivors = Array.from({ length: 200 }, (_, k) => 80_000 + k * 100);
    expect(table.shrinkIfSparse()).toBe(true);
    expect(table.capacity).toBe(512);
    expect(table.shrinkIfSparse()).toBe(false);
    expect(table.size).toBe(200);
    expect([...table.values()]).toEqual(survivors);
    for (const i of survivors) {
      expect(table.get(trace(i), span(i))).toBe(i);
      expect(table.lastMark).toBe(i % 13);
    }
    expect(table.get(trace(80_001), span(80_001))).toBeUndefined();
    // The bookmark stayed on the last survivor read (99,000): 99,100 is next.
    expect(table.afterBookmark()).toBe(99_100);
    // It grows again, and what it held is still found.
    for (let i = 200_000; i < 201_000; i++) table.set(trace(i), span(i), i);
    expect(table.size).toBe(1_200);
    for (const i of survivors) expect(table.get(trace(i), span(i))).toBe(i);
    expect([...table.values()].slice(198, 202)).toEqual([99_800, 99_900, 200_000, 200_001]);
    // Emptied, it goes back to its first size.
    for (const i of [...survivors, ...Array.from({ length: 1_000 }, (_, k) => 200_000 + k)]) table.delete(trace(i), span(i));
    expect(table.shrinkIfSparse()).toBe(true);
    expect(table.capacity).toBe(16);
    expect(table.afterBookmark()).toBeUndefined();
    table.set(trace(1), span(1), 1);
    expect(table.afterBookmark()).toBe(1);
  });

  it('finds every key after deletions in the middle of colliding probe runs', () => {
    const table = new OpenSpanTable<string>();
    // Keys that differ only in their last character collide often in a 32-slot table.
    const trace = '0'.repeat(32);
    const keys = Array.from({ length: 16 }, (_, i) => `00000000000000${String.fromCharCode(65 + i)}`);
    for (const key of keys) table.set(trace, key, key);
    for (const key of keys.filter((_, i) => i % 3 === 0)) expect(table.delete(trace, key)).toBe(true);
    for (const [i, key] of keys.entries()) expect(table.get(trace, key)).toBe(i % 3 === 0 ? undefined : key);
    expect([...table.values()]).toEqual(keys.filter((_, i) => i % 3 !== 0));
  });

  it('keeps spans of different traces that share a span id apart', () => {
    const table = new OpenSpanTable<string>();
    const spanId = '0000000000000001';
    const traces = Array.from({ length: 40 }, (_, i) => i.toString(16).padStart(32, '0'));
    for (const trace of traces) table.set(trace, spanId, trace);
    expect(table.delete(traces[7]!, spanId)).toBe(true);
    expect(table.delete(traces[7]!, spanId)).toBe(false);
    expect(table.get(traces[7]!, spanId)).toBeUndefined();
    for (const trace of traces.filter((_, i) => i !== 7)) expect(table.get(trace, spanId)).toBe(trace);
    expect(table.size).toBe(39);
  });

  it('lets the entry just yielded be deleted while iterating', () => {
    const table = new OpenSpanTable<number>();
    const trace = '0'.repeat(32);
    for (let i = 0; i < 50; i++) table.set(trace, `id${i}`, i);
    for (const value of table.values()) if (value % 2 === 0) table.delete(trace, `id${value}`);
    expect([...table.values()]).toEqual(Array.from({ length: 25 }, (_, i) => 2 * i + 1));
  });
});
