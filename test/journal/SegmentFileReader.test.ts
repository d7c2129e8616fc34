// The streaming reader gives the same records as reading a segment whole, whatever the
// chunk size (frames straddling chunk ends, damage straddling them), and a preallocated
// segment's zero-filled tail is the end of the records, not damage.
import { appendFileSync, closeSync, openSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { SEGMENT_MAGIC, encodeFrame } from '../../src/journal/frame.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { readOpenSegmentChunkSync, readSegmentChunkSync, readSegmentFile } from '../../src/journal/SegmentFileReader.js';
import type { SegmentChunk } from '../../src/journal/SegmentFileReader.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

function segmentOf(count: number): Buffer {
  const parts: Buffer[] = [SEGMENT_MAGIC];
  for (let i = 0; i < count; i++) parts.push(encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms: i, pad: 'x'.repeat((i * 37) % 300) })));
  return Buffer.concat(parts);
}

async function readAll(path: string, chunkBytes: number): Promise<SegmentChunk[]> {
  const chunks: SegmentChunk[] = [];
  for await (const chunk of readSegmentFile(path, { chunkBytes })) chunks.push(chunk);
  return chunks;
}

const summary = (chunks: SegmentChunk[]) => ({
  records: chunks.flatMap((c) => c.records.map((r) => `${r.offset}-${r.end}`)),
  damagedBytes: chunks.flatMap((c) => c.damaged).reduce((sum, range) => sum + range.length, 0),
  // Summed over the chunks, as recovery's report and `inspect` take them: a frame cut by a
  // chunk's end is read whole with the next chunk, and is no torn tail.
  tornTailBytes: chunks.reduce((sum, chunk) => sum + chunk.tornTailBytes, 0),
});

describe.each([64, 100, 1000, 1024 * 1024])('readSegmentFile in chunks of %i bytes', (chunkBytes) => {
  test('intact, torn and damaged segments read exactly as when read whole', async () => {
    const intact = segmentOf(200);
    const cases: Buffer[] = [intact, intact.subarray(0, intact.length - 50)];
    for (const at of [20, 1000, 5000, intact.length - 400]) {
      const damaged = Buffer.from(intact);
      damaged[at] ^= 0x5a;
      damaged.fill(0xff, at + 100, at + 140);
      cases.push(damaged);
    }
    for (const [index, bytes] of cases.entries()) {
      const path = join(tempDir(), `case-${index}.seg`);
      writeFileSync(path, bytes);
      const whole = readSegment(bytes);
      const streamed = summary(await readAll(path, chunkBytes));
      expect(streamed.records, `case ${index}`).toEqual(whole.records.map((r) => `${r.offset}-${r.end}`));
      expect(streamed.damagedBytes, `case ${index}`).toBe(whole.damaged.reduce((sum, range) => sum + range.length, 0));
      expect(streamed.tornTailBytes, `case ${index}`).toBe(whole.tornTailBytes);
    }
  });

  test('a zero-filled tail ends the records without damage; zeros with records after them are damage', async () => {
    const records = segmentOf(50);
    const preallocated = Buffer.concat([records, Buffer.alloc(256 * 1024)]);
    const path = join(tempDir(), 'preallocated.seg');
    writeFileSync(path, preallocated);
    const chunks = await readAll(path, chunkBytes);
    expect(summary(chunks)).toEqual({ records: readSegment(records).records.map((r) => `${r.offset}-${r.end}`), damagedBytes: 0, tornTailBytes: 0 });
    expect(chunks.at(-1)!.zeroTail).toBe(true);
    expect(chunks.at(-1)!.nextOffset).toBe(records.length);
    const tail = readSegmentChunkSync(path, { from: records.length, chunkBytes });
    expect(tail).toMatchObject({ records: [], damaged: [], nextOffset: records.length, done: true, zeroTail: true });

    const after = encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms: 999 }));
    const holed = Buffer.concat([records, Buffer.alloc(10_000), after]);
    const holedPath = join(tempDir(), 'holed.seg');
    writeFileSync(holedPath, holed);
    const holedChunks = summary(await readAll(holedPath, chunkBytes));
    expect(holedChunks.records).toHaveLength(51);
    expect(holedChunks.damagedBytes).toBe(10_000);
  });
});

test('records after a long run of zeros are read in chunks, not in one buffer as long as the run', () => {
  // A crafted segment (a review's fuzzing): records, a sparse hole of 64 MiB, one more
  // record. Read across, the hole was one buffer (4 GiB: out of range, and the records
  // before it never recovered).
  const records = segmentOf(50);
  const after = encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms: 999 }));
  const hole = 64 * 1024 * 1024;
  const path = join(tempDir(), 'hole.seg');
  writeFileSync(path, records);
  truncateSync(path, records.length + hole);
  appendFileSync(path, after);
  const fd = openSync(path, 'r');
  const reads: number[] = [];
  const readAt = (buffer: Buffer, position: number) => (reads.push(buffer.length), readSync(fd, buffer, 0, buffer.length, position));
  const chunks: SegmentChunk[] = [];
  try {
    const size = records.length + hole + after.length;
    for (let from = 0; chunks.at(-1)?.done !== true; from = chunks.at(-1)!.nextOffset) {
      chunks.push(readOpenSegmentChunkSync(readAt, size, { from, chunkBytes: 64 * 1024 }));
      expect(chunks.length).toBeLessThan(100);
    }
  } finally {
    closeSync(fd);
  }
  expect(summary(chunks)).toEqual({ records: [...readSegment(records).records.map((r) => `${r.offset}-${r.end}`), `${records.length + hole}-${records.length + hole + after.length}`], damagedBytes: hole, tornTailBytes: 0 });
  expect(chunks.flatMap((c) => c.damaged)).toEqual([{ offset: records.length, length: hole, reason: 'zeroed' }]);
  expect(Math.max(...reads)).toBeLessThanOrEqual(2 * 64 * 1024);
});

test('a segment cut to its records while it is read (a closed mapped segment) ends where the file now ends', async () => {
  const records = segmentOf(400);
  const path = join(tempDir(), 'cut.seg');
  writeFileSync(path, Buffer.concat([records, Buffer.alloc(256 * 1024)]));
  const chunks: SegmentChunk[] = [];
  for await (const chunk of readSegmentFile(path, { chunkBytes: 4096 })) {
    chunks.push(chunk);
    // The reader took the file's size before this: the rest of it is now gone.
    if (chunks.length === 1) truncateSync(path, records.length);
    expect(chunks.length).toBeLessThan(1000);
  }
  expect(chunks.at(-1)!.done).toBe(true);
  expect(summary(chunks)).toEqual({ ...summary([{ ...readSegment(records), done: true }]), tornTailBytes: 0 });
});

test('a frame longer than the chunk is read in one read, and damage is counted where doubling one read at a time counted it', async () => {
  // The magic, then a frame whose length field claims 300,000 bytes and whose checksum
  // fails; inside it, 4 bytes that read as a length of 0x060606; zeros to the end. Read in
  // chunks cut at the claimed length (a first version of the one-read sizing), the scan
  // through the damage stopped at that inner "frame", and a torn tail became 1,000 bytes
  // of damage, which recovery reports as spans lost (a review).
  const bytes = Buffer.alloc(600_000);
  SEGMENT_MAGIC.copy(bytes, 0);
  bytes.writeUInt32LE(300_000, 8);
  bytes.writeUInt32LE(0x12345678, 12);
  bytes[16] = RecordType.Heartbeat;
  bytes.fill('y', 17, 2000);
  bytes.writeUInt32LE(0x00060606, 1008);
  bytes[1999] = 4;
  const path = join(tempDir(), 'crafted.seg');
  writeFileSync(path, bytes);
  const chunks = await readAll(path, 64 * 1024);
  expect(chunks.flatMap((c) => c.damaged)).toEqual([]);
  expect(chunks.at(-1)).toMatchObject({ zeroTail: true, nextOffset: 8, tornTailBytes: 1992, done: true });
});
