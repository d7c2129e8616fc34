import { describe, expect, test } from 'vitest';
import { SEGMENT_MAGIC, encodeFrame, encodeFrameInto } from '../../src/journal/frame.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { seededRandom } from '../helpers/seededRandom.js';

function segmentOf(count: number): { bytes: Buffer; ends: number[] } {
  const parts: Buffer[] = [SEGMENT_MAGIC];
  const ends: number[] = [];
  let offset = SEGMENT_MAGIC.length;
  for (let i = 0; i < count; i++) {
    const frame = encodeFrame(RecordType.Heartbeat, JSON.stringify({ ms: i, pad: 'x'.repeat(i % 37) }));
    parts.push(frame);
    offset += frame.length;
    ends.push(offset);
  }
  return { bytes: Buffer.concat(parts), ends };
}

describe('readSegment', () => {
  test('reads every whole record of an intact segment', () => {
    const { bytes } = segmentOf(50);
    const contents = readSegment(bytes);
    expect(contents.records.map((r) => (r.payload as { ms: number }).ms)).toEqual([...Array(50).keys()]);
    expect(contents.damaged).toEqual([]);
    expect(contents.tornTailBytes).toBe(0);
    expect(contents.nextOffset).toBe(bytes.length);
  });

  test('a segment truncated at any offset yields every record before the cut, without throwing', () => {
    const { bytes, ends } = segmentOf(40);
    const next = seededRandom(7);
    for (let round = 0; round < 500; round++) {
      const cut = Math.floor(next() * bytes.length);
      const contents = readSegment(bytes.subarray(0, cut));
      const whole = ends.filter((end) => end <= cut).length;
      expect(contents.records).toHaveLength(whole);
      expect(contents.damaged).toEqual([]);
      const lastEnd = whole === 0 ? Math.min(cut, SEGMENT_MAGIC.length) : ends[whole - 1];
      expect(contents.tornTailBytes).toBe(cut < SEGMENT_MAGIC.length ? cut : cut - lastEnd);
    }
  });

  test('a flipped byte loses at most the record it hits; the range is counted as damage', () => {
    const { bytes, ends } = segmentOf(40);
    const next = seededRandom(11);
    for (let round = 0; round < 300; round++) {
      const damaged = Buffer.from(bytes);
      const at = SEGMENT_MAGIC.length + Math.floor(next() * (bytes.length - SEGMENT_MAGIC.length));
      damaged[at] ^= 1 + Math.floor(next() * 255);
      const contents = readSegment(damaged);
      expect(contents.records.length).toBeGreaterThanOrEqual(39);
      expect(contents.damaged.length + (contents.tornTailBytes > 0 ? 1 : 0)).toBeGreaterThanOrEqual(1);
      const hit = ends.findIndex((end) => end > at);
      const survivors = new Set(contents.records.map((r) => (r.payload as { ms: number }).ms));
      for (let i = 0; i < 40; i++) if (i !== hit) expect(survivors.has(i)).toBe(true);
    }
  });

  test('a file that is not a segment is reported, not thrown', () => {
    const contents = readSegment(Buffer.from('hello, this is not a journal segment at all'));
    expect(contents.records).toEqual([]);
    expect(contents.damaged[0]?.reason).toBe('bad-magic');
  });

  // A memory-mapped segment is preallocated: after the last record the file is zeros.
  describe('preallocated (zero-filled) tail', () => {
    const withZeros = (bytes: Buffer, zeros: number): Buffer => Buffer.concat([bytes, Buffer.alloc(zeros)]);

    test('the zeros after the last record are the end of the records, not damage', () => {
      const { bytes } = segmentOf(30);
      const contents = readSegment(withZeros(bytes, 64 * 1024));
      expect(contents.records).toHaveLength(30);
      expect(contents.damaged).toEqual([]);
      expect(contents.tornTailBytes).toBe(0);
      expect(contents.zeroTail).toBe(true);
      expect(contents.nextOffset).toBe(bytes.length);
    });

    test('read from an offset, as the live tail does, the zeros are not damage either', () => {
      const { bytes, ends } = segmentOf(30);
      const contents = readSegment(withZeros(bytes, 5000).subarray(ends[9]), ends[9]);
      expect(contents.records).toHaveLength(20);
      expect(contents.damaged).toEqual([]);
      expect(contents.nextOffset).toBe(bytes.length);
    });

    test('a freshly preallocated segment (all zeros, or part of the magic) holds no records and no damage', () => {
      for (const magicBytes of [0, 3, SEGMENT_MAGIC.length]) {
        const bytes = withZeros(SEGMENT_MAGIC.subarray(0, magicBytes), 4096);
        const contents = readSegment(bytes);
        expect(contents.records).toEqual([]);
        expect(contents.damaged).toEqual([]);
      }
    });

    test('a record cut anywhere by a crash mid-copy, zeros after it: every record before the cut, no damage', () => {
      const { bytes, ends } = segmentOf(40);
      const next = seededRandom(13);
      for (let round = 0; round < 500; round++) {
        const cut = SEGMENT_MAGIC.length + Math.floor(next() * (bytes.length - SEGMENT_MAGIC.length));
        const contents = readSegment(withZeros(bytes.subarray(0, cut), 8192));
        const whole = ends.filter((end) => end <= cut).length;
        expect(contents.records).toHaveLength(whole);
        expect(contents.damaged).toEqual([]);
        expect(contents.nextOffset).toBe(whole === 0 ? SEGMENT_MAGIC.length : ends[whole - 1]);
      }
    });

    test('a frame being encoded in place, stopped between any two of its stores: every record before it, no damage', () => {
      const { bytes } = segmentOf(10);
      const json = JSON.stringify({ ms: 99, pad: 'y'.repeat(300) });
      const finished = Buffer.alloc(1024);
      const length = encodeFrameInto(finished, 0, RecordType.Heartbeat, json);
      // encodeFrameInto's stores in order: the unfinished length, the payload byte by byte,
      // the type, the checksum, the real length. Each prefix of that sequence is a state a
      // SIGKILL can leave in a mapped segment.
      const states: Buffer[] = [];
      const state = Buffer.alloc(length);
      state.writeUInt32LE(0xffffffff, 0);
      states.push(Buffer.from(state));
      for (let at = 9; at < length; at += 17) {
        finished.copy(state, 9, 9, at);
        states.push(Buffer.from(state));
      }
      finished.copy(state, 9, 9, length);
      state[8] = finished[8];
      states.push(Buffer.from(state));
      finished.copy(state, 4, 4, 8);
      states.push(Buffer.from(state));
      for (const partial of states) {
        const contents = readSegment(withZeros(Buffer.concat([bytes, partial]), 8192));
        expect(contents.records).toHaveLength(10);
        expect(contents.damaged).toEqual([]);
        expect(contents.nextOffset).toBe(bytes.length);
      }
      finished.copy(state, 0, 0, 4);
      expect(readSegment(withZeros(Buffer.concat([bytes, state]), 8192)).records).toHaveLength(11);
    });

    test('zeros in the middle, with records after them, are still damage and the later records are read', () => {
      const { bytes, ends } = segmentOf(30);
      const damaged = Buffer.from(bytes);
      damaged.fill(0, ends[9], ends[12]);
      const contents = readSegment(damaged);
      expect(contents.damaged).toHaveLength(1);
      expect(contents.records.map((r) => (r.payload as { ms: number }).ms)).toEqual([...Array(30).keys()].filter((i) => i < 10 || i > 12));
    });
  });
});
