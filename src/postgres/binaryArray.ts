// One-dimensional PostgreSQL arrays in the binary wire format (array_send/array_recv in
// src/backend/utils/adt/arrayfuncs.c). node-postgres sends a Buffer parameter with the
// binary format code, so the server reads these without parsing array literals or
// numbers, and we write them without quoting and escaping every element: measured here,
// this cut the CPU time per span by about a quarter on both sides (bench/exporter-throughput.mjs).
//
// Layout: int32 ndim (1), int32 has-nulls flag, int32 element type OID, int32 length,
// int32 lower bound (1), then per element int32 byte length (-1 for NULL) and the bytes.

import type { ParameterArena } from './ParameterArena.js';
import type { UnixNano } from './unixNano.js';

const OID = { bool: 16, int8: 20, int4: 23, text: 25, jsonb: 3802 } as const;
// jsonb's binary form is a version byte, then the JSON text (jsonb_recv).
const JSONB_VERSION = 1;
const HEADER_BYTES = 20;
// The most UTF-8 bytes one UTF-16 code unit can need.
const MAX_UTF8_PER_UNIT = 3;

/**
 * A big-endian 32-bit word (signed or not) at `offset`; returns the offset after it.
 * Buffer#writeInt32BE checks its arguments on each call, several times a span; these
 * offsets and values are ours and in range.
 */
function putInt32(buffer: Buffer, value: number, offset: number): number {
  buffer[offset] = value >>> 24;
  buffer[offset + 1] = value >>> 16;
  buffer[offset + 2] = value >>> 8;
  buffer[offset + 3] = value;
  return offset + 4;
}

/** Room in `arena` for an array of at most `bytes`; `arena.commit()` then keeps what was written. */
function startArray(bytes: number, length: number, elementType: number, arena: ParameterArena): Buffer {
  return writeHeader(arena.reserve(bytes), length, elementType);
}

function writeHeader(buffer: Buffer, length: number, elementType: number): Buffer {
  buffer.writeInt32BE(1, 0);
  buffer.writeInt32BE(0, 4);
  buffer.writeInt32BE(elementType, 8);
  buffer.writeInt32BE(length, 12);
  buffer.writeInt32BE(1, 16);
  return buffer;
}

function writeNull(buffer: Buffer, offset: number): number {
  putInt32(buffer, 1, 4); // the has-nulls flag
  return putInt32(buffer, -1, offset);
}

/** `text[]`. Strings must be well-formed (sanitize.ts). */
export function textArray(values: readonly (string | null)[], arena: ParameterArena): Buffer {
  return stringArray(values, OID.text, false, arena);
}

/** `jsonb[]` from JSON texts: parsed by the server once, on receipt. */
export function jsonbArray(values: readonly (string | null)[], arena: ParameterArena): Buffer {
  return stringArray(values, OID.jsonb, true, arena);
}

// Strings are written into one reusable scratch buffer (sized for the worst case of 3
// bytes per UTF-16 unit) and copied into the arena at their exact length: reserving that
// worst case in the arena would waste most of its blocks. Arrays too big for the scratch
// limit are written straight into the arena (a buffer of their own there), so one huge
// batch is not retained.
const SCRATCH_LIMIT = 4 * 1024 * 1024;
let scratch = Buffer.allocUnsafe(256 * 1024);

function stringArray(values: readonly (string | null)[], elementType: number, jsonb: boolean, arena: ParameterArena): Buffer {
  const prefix = jsonb ? 1 : 0;
  let bound = HEADER_BYTES;
  for (const value of values) bound += 4 + (value === null ? 0 : prefix + value.length * MAX_UTF8_PER_UNIT);
  const ownBuffer = bound > SCRATCH_LIMIT;
  if (!ownBuffer && scratch.length < bound) scratch = Buffer.allocUnsafe(Math.min(SCRATCH_LIMIT, Math.max(bound, scratch.length * 2)));
  const buffer = writeHeader(ownBuffer ? arena.reserve(bound) : scratch, values.length, elementType);
  let offset = HEADER_BYTES;
  for (const value of values) {
    if (value === null) {
      offset = writeNull(buffer, offset);
      continue;
    }
    if (jsonb) buffer[offset + 4] = JSONB_VERSION;
    const written = prefix + writeUtf8(buffer, value, offset + 4 + prefix);
    putInt32(buffer, written, offset);
    offset += 4 + written;
  }
  return ownBuffer ? arena.commit(buffer, offset) : arena.copy(buffer.subarray(0, offset));
}

// Most strings of a row are short and ASCII (ids, names, routes, status messages): a loop
// in JavaScript writes those faster than a call into C++, and the rest go to Buffer's
// utf8Write, which Buffer#write calls once it has checked and defaulted its arguments
// (ours are known good; on Node 22 and 24 utf8Write checks offset and length itself, in
// a few comparisons). protobufjs's BufferWriter does the same. With putInt32 (above), binding the
// end-to-end bench's rows fell from 2.6–2.9 µs a span to 1.7 (bench/exportPathCosts.mjs).
const SHORT_STRING_UNITS = 48;
type Utf8Write = (this: Buffer, value: string, offset: number, length: number) => number;
const utf8Write: Utf8Write | undefined = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write;

/** Writes `value` as UTF-8 at `offset` (room for 3 bytes a unit is there); returns the bytes written. */
function writeUtf8(buffer: Buffer, value: string, offset: number): number {
  const units = value.length;
  if (units <= SHORT_STRING_UNITS) {
    let i = 0;
    for (; i < units; i++) {
      const unit = value.charCodeAt(i);
      if (unit >= 0x80) break;
      buffer[offset + i] = unit;
    }
    if (i === units) return units;
  }
  // The length is given: without it, Node 20 writes nothing (and returns 0) when more than
  // 2^31 - 1 bytes of the buffer follow the offset, and every string was stored empty.
  const room = units * MAX_UTF8_PER_UNIT;
  return utf8Write === undefined ? buffer.write(value, offset, room, 'utf8') : utf8Write.call(buffer, value, offset, room);
}

const TWO_POW_16 = 0x1_0000;
const TWO_POW_32 = 0x1_0000_0000;
const NANOS_PER_SECOND = 1_000_000_000;

/**
 * `bigint[]` of nanoseconds since the epoch. The 64-bit value is written as two 32-bit
 * words computed exactly in doubles (every intermediate stays below 2^53): a third of the
 * cost of building a decimal string and parsing it into a BigInt.
 */
export function unixNanoArray(values: readonly (UnixNano | null)[], arena: ParameterArena): Buffer {
  const buffer = startArray(HEADER_BYTES + values.length * 12, values.length, OID.int8, arena);
  let offset = HEADER_BYTES;
  for (const value of values) {
    if (value === null) {
      offset = writeNull(buffer, offset);
      continue;
    }
    putInt32(buffer, 8, offset);
    const [seconds, nanos] = value;
    if (seconds < 0 || seconds >= TWO_POW_32) {
      // Before 1970 or after 2106: rare enough for BigInt.
      buffer.writeBigInt64BE(BigInt(seconds) * BigInt(NANOS_PER_SECOND) + BigInt(nanos), offset + 4);
    } else {
      // total = high·2^16 + low, with high = ⌊seconds / 2^16⌋·1e9 and low below 2^47.
      const high = Math.floor(seconds / TWO_POW_16) * NANOS_PER_SECOND;
      const low = (seconds % TWO_POW_16) * NANOS_PER_SECOND + nanos;
      const rest = (high % TWO_POW_16) * TWO_POW_16 + low;
      putInt32(buffer, Math.floor(high / TWO_POW_16) + Math.floor(rest / TWO_POW_32), offset + 4);
      putInt32(buffer, rest % TWO_POW_32, offset + 8);
    }
    offset += 12;
  }
  return arena.commit(buffer, offset);
}

/** `integer[]`; values must fit in 32 bits. */
export function integerArray(values: readonly (number | null)[], arena: ParameterArena): Buffer {
  const buffer = startArray(HEADER_BYTES + values.length * 8, values.length, OID.int4, arena);
  let offset = HEADER_BYTES;
  for (const value of values) {
    if (value === null) {
      offset = writeNull(buffer, offset);
      continue;
    }
    putInt32(buffer, 4, offset);
    offset = putInt32(buffer, value, offset + 4);
  }
  return arena.commit(buffer, offset);
}

export function booleanArray(values: readonly (boolean | null)[], arena: ParameterArena): Buffer {
  const buffer = startArray(HEADER_BYTES + values.length * 5, values.length, OID.bool, arena);
  let offset = HEADER_BYTES;
  for (const value of values) {
    if (value === null) {
      offset = writeNull(buffer, offset);
      continue;
    }
    putInt32(buffer, 1, offset);
    buffer[offset + 4] = value ? 1 : 0;
    offset += 5;
  }
  return arena.commit(buffer, offset);
}

/** `bigint[]` of safe integers (JS numbers below 2^53). */
export function bigintArray(values: readonly (number | null)[], arena: ParameterArena): Buffer {
  const buffer = startArray(HEADER_BYTES + values.length * 12, values.length, OID.int8, arena);
  let offset = HEADER_BYTES;
  for (const value of values) {
    if (value === null) {
      offset = writeNull(buffer, offset);
      continue;
    }
    buffer.writeInt32BE(8, offset);
    offset = buffer.writeBigInt64BE(BigInt(value), offset + 4);
  }
  return arena.commit(buffer, offset);
}
