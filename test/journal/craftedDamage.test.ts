// Damage crafted to look like frames: a 16-byte unit repeated so that at every unit the
// three cheap resync checks pass (a record type, `{` first, `}` last of the claimed length).
// Each such offset used to cost a checksum of its claimed length and, where that length ran
// past the chunk, a read as long: 4 MiB of units claiming 1 MiB took 246 s (a review's
// fuzzing). The work counted here is the bytes checksummed, which must stay linear in the
// file's size; and every real frame around and inside the pattern must still be read.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test, vi } from 'vitest';
import { SEGMENT_MAGIC, encodeFrame } from '../../src/journal/frame.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { readSegmentFile } from '../../src/journal/SegmentFileReader.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { seededRandom } from '../helpers/seededRandom.js';

const checksummed = vi.hoisted(() => ({ bytes: 0 }));
vi.mock('node:zlib', async (importOriginal) => {
  const zlib = await importOriginal<typeof import('node:zlib')>();
  return {
    ...zlib,
    crc32: (data: Buffer | string, value?: number) => {
      checksummed.bytes += data.length;
      return zlib.crc32(data, value);
    },
  };
});

const tempDir = useTempDirs();
const UNIT = 16;

/** `count` units, each a header claiming `claimed` payload bytes that begin with `{` and end with `}`. */
function craftedUnits(count: number, claimed: number): Buffer {
  expect(claimed % UNIT).toBe(2); // so that the claimed payload's last byte is the unit's `}`
  const unit = Buffer.alloc(UNIT, 'x');
  unit.writeUInt32LE(claimed, 0);
  unit.write('AAAA', 4, 'latin1'); // a checksum that never holds
  unit[8] = RecordType.SpanEnd;
  unit[9] = 0x7b; // {
  unit[10] = 0x7d; // }
  return Buffer.concat(Array.from({ length: count }, () => unit));
}

const heartbeat = (ms: number) => encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms, note: 'a real frame' }));
/** A real frame whose JSON holds every control character, escaped as JSON.stringify writes them. */
const controlText = () => encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms: 99, text: String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i)) + '\ud800' }));

function craftedSegment(claimed: number, units: number): { bytes: Buffer; real: number } {
  const parts = [SEGMENT_MAGIC, heartbeat(1), heartbeat(2), craftedUnits(units, claimed), heartbeat(3), controlText(), craftedUnits(units, claimed), heartbeat(4)];
  return { bytes: Buffer.concat(parts), real: 5 };
}

const msOf = (payloads: unknown[]) => payloads.map((p) => (p as { ms: number }).ms);

describe('damage crafted to pass the cheap resync checks at every unit', () => {
  test.each([
    ['inside one buffer', 4 * 1024 + 2],
    ['claiming past the buffer', 128 * 1024 + 2],
  ])('read whole, %s: every real frame found, checksums linear in the size', (_name, claimed) => {
    const { bytes } = craftedSegment(claimed, 16 * 1024);
    checksummed.bytes = 0;
    const contents = readSegment(bytes);
    expect(msOf(contents.records.map((r) => r.payload))).toEqual([1, 2, 3, 99, 4]);
    expect(contents.damaged.reduce((sum, range) => sum + range.length, 0)).toBe(2 * 16 * 1024 * UNIT);
    expect(checksummed.bytes).toBeLessThan(2 * bytes.length);
  });

  test.each([
    ['inside a chunk', 4 * 1024 + 2],
    ['claiming past the chunk', 128 * 1024 + 2],
  ])('read in 64 KiB chunks, %s: every real frame found, checksums and reads linear', async (_name, claimed) => {
    const { bytes } = craftedSegment(claimed, 16 * 1024);
    const path = join(tempDir(), 'crafted.seg');
    writeFileSync(path, bytes);
    checksummed.bytes = 0;
    const payloads: unknown[] = [];
    let damaged = 0;
    for await (const chunk of readSegmentFile(path, { chunkBytes: 64 * 1024 })) {
      payloads.push(...chunk.records.map((r) => r.payload));
      damaged += chunk.damaged.reduce((sum, range) => sum + range.length, 0);
    }
    expect(msOf(payloads)).toEqual([1, 2, 3, 99, 4]);
    expect(damaged).toBe(2 * 16 * 1024 * UNIT);
    expect(checksummed.bytes).toBeLessThan(4 * bytes.length);
  });

  test('seeded mixes of crafted units, frame-like headers, garbage and real frames: every real frame found, whole or in 4 KiB chunks', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = seededRandom(seed);
      const parts: Buffer[] = [SEGMENT_MAGIC];
      const real: number[] = [];
      for (let part = 0; part < 30; part++) {
        const pick = next();
        if (pick < 0.4) {
          const ms = seed * 1000 + part;
          real.push(ms);
          const text = String.fromCharCode(...Array.from({ length: Math.floor(next() * 40) }, () => Math.floor(next() * 0x80)));
          parts.push(encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms, text })));
        } else if (pick < 0.6) {
          parts.push(craftedUnits(1 + Math.floor(next() * 300), 16 * Math.floor(next() * 20_000) + 2));
        } else if (pick < 0.8) {
          // A header with a claim anywhere up to past the file, on any alignment.
          const header = Buffer.alloc(10 + Math.floor(next() * 7));
          header.writeUInt32LE(Math.floor(next() * 2 ** 20), 0);
          header[8] = 1 + Math.floor(next() * 9);
          header[9] = 0x7b;
          parts.push(header, Buffer.alloc(Math.floor(next() * 50), '}'));
        } else {
          parts.push(Buffer.from(Array.from({ length: Math.floor(next() * 3000) }, () => Math.floor(next() * 256))));
        }
      }
      const bytes = Buffer.concat(parts);
      checksummed.bytes = 0;
      const whole = msOf(readSegment(bytes).records.map((r) => r.payload));
      expect(whole, `seed ${seed}`).toEqual(real);
      expect(checksummed.bytes, `seed ${seed}`).toBeLessThan(2 * bytes.length);
      const path = join(tempDir(), `mix-${seed}.seg`);
      writeFileSync(path, bytes);
      const payloads: unknown[] = [];
      for await (const chunk of readSegmentFile(path, { chunkBytes: 4096 })) payloads.push(...chunk.records.map((r) => r.payload));
      expect(msOf(payloads), `seed ${seed}, in chunks`).toEqual(real);
    }
  });
});
