// The addon's encodeFrame (native/segment_io.c, native/crc32.c) must write the very bytes
// frame.ts writes (whose checksum is zlib.crc32): every reader checks frames with zlib.
// Lengths cover the table-driven CRC (under 64 bytes), the folded one and what each leaves.
import { openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { encodeFrame } from '../../src/journal/frame.js';
import { loadSegmentIoAddon } from '../../src/journal/segmentFile/segmentIoAddon.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { expectedJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { ascii, text, unicode } from '../helpers/payloadTexts.mjs';

const tempDir = useTempDirs();
const { addon } = loadSegmentIoAddon();
const mapped = expectedJournalIo('mmap') === 'mmap' && addon?.encodeFrame !== undefined;

describe.runIf(mapped)('addon encodeFrame', () => {
  function mapping(bytes: number): { buffer: ArrayBuffer; view: Buffer } {
    const fd = openSync(join(tempDir(), 'frames'), 'w+');
    addon!.fallocate(fd, bytes);
    const buffer = addon!.map(fd, bytes);
    closeSync(fd);
    return { buffer, view: Buffer.from(buffer) };
  }

  test('writes the bytes frame.ts writes, for every payload length up to 1,100 and some far longer', () => {
    const { buffer, view } = mapping(1 << 20);
    const lengths = [...Array.from({ length: 1100 }, (_, i) => i), 4095, 4096, 65_537];
    for (const [alphabet, name] of [
      [ascii, 'ascii'],
      [unicode, 'unicode'],
    ] as const) {
      for (const length of lengths) {
        const json = text(length, alphabet, length + 1);
        const expected = encodeFrame(RecordType.SpanEnd, json);
        const offset = length % 7;
        const written = addon!.encodeFrame!(buffer, offset, RecordType.SpanEnd, json);
        expect({ name, length, written }).toEqual({ name, length, written: expected.length });
        if (!view.subarray(offset, offset + written).equals(expected)) expect.fail(`${name} payload of ${length} units: bytes differ`);
      }
    }
    addon!.unmap(buffer);
  });

  test('a frame that does not fit is refused, with nothing written', () => {
    const { buffer, view } = mapping(4096);
    const json = text(100, ascii, 7);
    // 9 header bytes + 100 payload bytes, and one byte to spare.
    expect(addon!.encodeFrame!(buffer, 4096 - 109, RecordType.SpanStart, json)).toBe(-1);
    expect(addon!.encodeFrame!(buffer, 4096 - 110, RecordType.SpanStart, json)).toBe(109);
    expect(addon!.encodeFrame!(buffer, 4096, RecordType.SpanStart, '')).toBe(-1);
    // Where three bytes per unit might not fit, it measures: 2,100 'é' are 4,200 bytes, 1,500 are 3,000.
    expect(addon!.encodeFrame!(buffer, 0, RecordType.SpanStart, 'é'.repeat(2100))).toBe(-1);
    expect(view.subarray(0, 4096 - 110).every((byte) => byte === 0)).toBe(true);
    expect(addon!.encodeFrame!(buffer, 0, RecordType.SpanStart, 'é'.repeat(1500))).toBe(3009);
    addon!.unmap(buffer);
  });
});

describe.runIf(mapped)('addon unmap and release', () => {
  test('refuse a buffer map() did not return, and leave it whole', () => {
    // Before, they unmapped whatever memory the buffer's address named.
    const foreign = new ArrayBuffer(4096);
    new Uint8Array(foreign).fill(7);
    expect(() => addon!.unmap(foreign)).toThrow(/EINVAL/);
    expect(() => addon!.release!(foreign, -1, 0, () => {})).toThrow(/EINVAL/);
    expect(foreign.byteLength).toBe(4096);
    expect(new Uint8Array(foreign).every((byte) => byte === 7)).toBe(true);
  });
});
