// Record framing: | u32 LE payload length | u32 LE crc32(type + payload) | u8 type | payload |
// The checksum covers the type byte too, so a flipped type is caught like a flipped byte
// of JSON. crc32 comes from node:zlib (Node >= 20.15): no dependency.
import { crc32 } from 'node:zlib';
import type { RecordType } from './recordTypes.js';

export const FRAME_HEADER_BYTES = 9;
/** Larger lengths are read as damage, not as a record: a span never needs 64 MiB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
/** The first bytes of every segment file, so `inspect` can refuse a file that is not one. */
export const SEGMENT_MAGIC = Buffer.from('OTELBBJ1', 'latin1');

export function frameChecksum(type: number, payload: Uint8Array): number {
  return crc32(payload, crc32(Uint8Array.of(type)));
}

export function encodeFrame(type: RecordType, json: string): Buffer {
  const payloadBytes = Buffer.byteLength(json);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  frame.writeUInt32LE(payloadBytes, 0);
  frame.writeUInt32LE(frameChecksum(type, payload), 4);
  frame.writeUInt8(type, 8);
  return frame;
}
