// Reads the records of a segment without ever throwing. A torn last record is the normal
// result of a crash; a damaged range in the middle is skipped by scanning for the next
// frame whose checksum holds, and counted. (etcd's WAL Repair and RocksDB's
// kTolerateCorruptedTailRecords make the same choice.)
import { FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES, SEGMENT_MAGIC, frameChecksum } from './frame.js';
import { RECORD_TYPE_NAMES } from './recordTypes.js';

export interface JournalRecord {
  type: number;
  /** Byte offset of the frame in its segment. */
  offset: number;
  /** Byte offset just past the frame. */
  end: number;
  payload: unknown;
}

export interface DamagedRange {
  offset: number;
  length: number;
  reason: 'checksum' | 'bad-length' | 'bad-type' | 'bad-json' | 'bad-magic';
}

export interface SegmentContents {
  records: JournalRecord[];
  damaged: DamagedRange[];
  /** Bytes of an incomplete last frame: a crash mid-write, or a writer still writing. */
  tornTailBytes: number;
  /** Where the next read should start: the end of the last whole frame. */
  nextOffset: number;
}

/** Which record types get their JSON parsed; others keep `payload` undefined (cheaper). */
export type ParseFilter = (type: number) => boolean;

const parseAll: ParseFilter = () => true;

function frameAt(
  buffer: Buffer,
  offset: number,
  parse: ParseFilter,
): { record: JournalRecord } | { torn: true } | { bad: DamagedRange['reason'] } {
  if (offset + FRAME_HEADER_BYTES > buffer.length) return { torn: true };
  const length = buffer.readUInt32LE(offset);
  if (length > MAX_PAYLOAD_BYTES) return { bad: 'bad-length' };
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > buffer.length) return { torn: true };
  const type = buffer[offset + 8];
  if (frameChecksum(buffer, offset + 8, length) !== buffer.readUInt32LE(offset + 4)) return { bad: 'checksum' };
  const payload = buffer.subarray(offset + FRAME_HEADER_BYTES, end);
  if (!(type in RECORD_TYPE_NAMES)) return { bad: 'bad-type' };
  if (!parse(type)) return { record: { type, offset, end, payload: undefined } };
  try {
    return { record: { type, offset, end, payload: JSON.parse(payload.toString('utf8')) } };
  } catch {
    return { bad: 'bad-json' };
  }
}

function validFrameAfter(buffer: Buffer, from: number, parse: ParseFilter): boolean {
  for (let offset = from; offset + FRAME_HEADER_BYTES <= buffer.length; offset++) {
    if ('record' in frameAt(buffer, offset, parse)) return true;
  }
  return false;
}

/**
 * Parses `buffer`: a segment's bytes from `baseOffset` on (the magic is checked only when
 * reading from 0). An incomplete last frame is reported in `tornTailBytes` and left out of
 * `nextOffset`, so a reader tailing a live segment simply reads it again next time.
 */
export function readSegment(buffer: Buffer, baseOffset = 0, parse: ParseFilter = parseAll): SegmentContents {
  const records: JournalRecord[] = [];
  const damaged: DamagedRange[] = [];
  let offset = 0;
  if (baseOffset === 0) {
    if (buffer.length < SEGMENT_MAGIC.length) {
      return { records, damaged, tornTailBytes: buffer.length, nextOffset: 0 };
    }
    if (!buffer.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) {
      damaged.push({ offset: 0, length: SEGMENT_MAGIC.length, reason: 'bad-magic' });
    }
    offset = SEGMENT_MAGIC.length;
  }
  let damageStart = -1;
  let damageReason: DamagedRange['reason'] = 'checksum';
  let lastGoodEnd = offset;
  while (offset < buffer.length) {
    const result = frameAt(buffer, offset, parse);
    if ('record' in result) {
      if (damageStart >= 0) {
        damaged.push({ offset: baseOffset + damageStart, length: offset - damageStart, reason: damageReason });
        damageStart = -1;
      }
      result.record.offset += baseOffset;
      result.record.end += baseOffset;
      records.push(result.record);
      offset = result.record.end - baseOffset;
      lastGoodEnd = offset;
      continue;
    }
    // A frame running past the end is a torn tail only if nothing valid follows it; a
    // corrupted length field looks the same, and must not hide the records after it.
    if ('torn' in result && damageStart < 0 && !validFrameAfter(buffer, offset + 1, parse)) break;
    // Damage (or a "torn" frame inside damage, which is just garbage): resync byte by byte.
    if (damageStart < 0) {
      damageStart = offset;
      damageReason = 'bad' in result ? result.bad : 'checksum';
    }
    offset += 1;
  }
  if (damageStart >= 0) {
    damaged.push({ offset: baseOffset + damageStart, length: buffer.length - damageStart, reason: damageReason });
    lastGoodEnd = buffer.length;
  }
  return {
    records,
    damaged,
    tornTailBytes: buffer.length - lastGoodEnd,
    nextOffset: baseOffset + lastGoodEnd,
  };
}
