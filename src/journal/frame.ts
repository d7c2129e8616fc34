// Record framing: | u32 LE payload length | u32 LE crc32(type + payload) | u8 type | payload |
// The type byte sits right before the payload so one crc32 call covers both, and a
// flipped type is caught like a flipped byte of JSON. crc32 comes from node:zlib
// (Node >= 20.15): no dependency.
import { crc32 } from 'node:zlib';
import type { RecordType } from './recordTypes.js';

export const FRAME_HEADER_BYTES = 9;
/** Larger lengths are read as damage, not as a record: a span never needs 64 MiB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** The length of a frame being encoded: above MAX_PAYLOAD_BYTES, so never read as a record. */
const UNFINISHED_LENGTH = 0xffffffff;
/** The first bytes of every segment file, so `inspect` can refuse a file that is not one. */
export const SEGMENT_MAGIC = Buffer.from('OTELBBJ1', 'latin1');

/** Checksum of a frame whose type byte is at `typeOffset`, followed by `length` payload bytes. */
export function frameChecksum(buffer: Buffer, typeOffset: number, length: number): number {
  return crc32(buffer.subarray(typeOffset, typeOffset + 1 + length));
}

/**
 * Encodes a frame into `target` at `offset` without allocating; returns the frame's
 * length, or -1 when it does not fit (the caller flushes and retries, or allocates).
 */
export function encodeFrameInto(target: Buffer, offset: number, type: RecordType, json: string): number {
  const room = target.length - offset - FRAME_HEADER_BYTES;
  // UTF-8 needs at most 3 bytes per UTF-16 unit: below that bound, write() cannot truncate.
  if (room < json.length * 3 && room < Buffer.byteLength(json)) return -1;
  // Into a mapped segment a crash can stop this between any two stores. The length word is
  // stored first as one no frame can have and last as the real one, so a frame cut anywhere
  // reads as a torn tail (a bad frame right after the last good one, then zeros), never as
  // zeros followed by data, which is damage.
  target.writeUInt32LE(UNFINISHED_LENGTH, offset);
  const length = target.write(json, offset + FRAME_HEADER_BYTES, 'utf8');
  target[offset + 8] = type;
  target.writeUInt32LE(frameChecksum(target, offset + 8, length), offset + 4);
  target.writeUInt32LE(length, offset);
  return FRAME_HEADER_BYTES + length;
}

export function encodeFrame(type: RecordType, json: string): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + Buffer.byteLength(json));
  encodeFrameInto(frame, 0, type, json);
  return frame;
}
