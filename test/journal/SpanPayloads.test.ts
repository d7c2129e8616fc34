// Recovery and the export loop parse a batch's span records a slice per turn of the event
// loop; a slice is bounded by bytes as well as by records, so a batch of large records is
// not parsed in one turn (256 records of 4 MiB attributes took 56–73 ms).
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { PayloadBuffers, SpanPayloadsBuilder } from '../../src/journal/SpanPayloads.js';

function payloadsOf(sizes: number[]) {
  const builder = new SpanPayloadsBuilder(new PayloadBuffers());
  for (const size of sizes) builder.add(Buffer.alloc(size, 0x20));
  return builder.build(() => {
    throw new Error('not parsed here');
  });
}

describe('SpanPayloads.sliceEnd', () => {
  test('ends after the payload that reaches the byte bound, or at the record bound, whichever comes first', () => {
    const MiB = 1024 * 1024;
    const payloads = payloadsOf([10, 10, 2 * MiB, 10, 10, 10]);
    expect(payloads.sliceEnd(0, 256, MiB)).toBe(3);
    expect(payloads.sliceEnd(3, 256, MiB)).toBe(6);
    expect(payloads.sliceEnd(0, 2, MiB)).toBe(2);
    expect(payloads.sliceEnd(3, 2, MiB)).toBe(5);
  });

  test('takes one payload at least, and never passes the last', () => {
    const payloads = payloadsOf([100, 100, 100]);
    expect(payloads.sliceEnd(0, 256, 1)).toBe(1);
    expect(payloads.sliceEnd(2, 256, 1)).toBe(3);
    expect(payloads.sliceEnd(1, 256, 10_000)).toBe(3);
  });
});

describe('SpanPayloads.parseInSlices', () => {
  test('parses every payload in order, waiting between slices of 256, and counts the ones that do not parse', async () => {
    const builder = new SpanPayloadsBuilder(new PayloadBuffers());
    for (let i = 0; i < 600; i++) builder.add(Buffer.from(i === 300 ? '{"n":' : JSON.stringify({ n: i })));
    const payloads = builder.build((record) => ({ name: String((record as unknown as { n: number }).n) }) as unknown as ReadableSpan);
    const parsedAtEachWait: number[] = [];
    const into: ReadableSpan[] = [];
    const unreadable = await payloads.parseInSlices(into, async () => {
      parsedAtEachWait.push(into.length);
    });
    expect(parsedAtEachWait).toEqual([256, 511]);
    expect(unreadable).toBe(1);
    expect(into.map((span) => Number(span.name))).toEqual([...Array(600).keys()].filter((n) => n !== 300));
  });
});
