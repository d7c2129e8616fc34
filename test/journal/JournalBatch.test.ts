// The export loop parses a batch's ENDs read from disk ahead of its export, a slice at a
// time (a 2048-span batch parsed in one go held the event loop 13-28 ms); the export's
// first look at the batch takes those spans, and a later attempt parses anew.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { JournalBatch } from '../../src/journal/JournalBatch.js';
import { PayloadBuffers, SpanPayloadsBuilder } from '../../src/journal/SpanPayloads.js';

function batchOf(count: number): { batch: JournalBatch; parses: () => number } {
  const builder = new SpanPayloadsBuilder(new PayloadBuffers());
  for (let i = 0; i < count; i++) builder.add(Buffer.from(JSON.stringify({ n: i })));
  let parses = 0;
  const payloads = builder.build((record) => {
    parses += 1;
    return { name: String((record as unknown as { n: number }).n) } as unknown as ReadableSpan;
  });
  return { batch: new JournalBatch(payloads, [], [], { segment: 1, offset: 0 }), parses: () => parses };
}

test('spans parsed ahead, a slice between two waits, are what the first look takes; a later look parses anew', async () => {
  const { batch, parses } = batchOf(2048);
  let waits = 0;
  await batch.parseAhead(async () => {
    waits += 1;
  });
  expect(waits).toBe(7);
  expect(parses()).toBe(2048);

  const first = batch.spansInto([]);
  expect(first).toHaveLength(2048);
  expect(parses()).toBe(2048);
  const again = batch.spansInto([]);
  expect(again.map((span) => span.name)).toEqual(first.map((span) => span.name));
  expect(again[0]).not.toBe(first[0]);
  expect(parses()).toBe(4096);
});

test('a batch committed after being parsed ahead lets its spans go', async () => {
  const { batch } = batchOf(10);
  await batch.parseAhead(async () => {});
  batch.letGo();
  expect(batch.spansInto([])).toEqual([]);
});
