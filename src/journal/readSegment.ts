// Reads the records of a segment without ever throwing. A torn last record is the normal
// result of a crash; a damaged range in the middle is skipped by scanning for the next
// frame whose checksum holds, and counted. (etcd's WAL Repair and RocksDB's
// kTolerateCorruptedTailRecords make the same choice.) A preallocated segment ends in
// zeros: a zero-filled tail (length 0 and crc 0, nothing but zeros after it) is the end
// of the records, not damage; zeros with data after them are a damaged range. The frame
// right before the zeros that does not check is one a crash cut mid-copy: a torn tail. This parses one buffer; SegmentFileReader.ts feeds it a
// file in bounded chunks.
import { FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES, SEGMENT_MAGIC, frameChecksum } from './frame.js';
import { ControlByteScan } from './controlBytes.js';
import { RECORD_TYPE_NAMES } from './recordTypes.js';

export interface JournalRecord {
  type: number;
  /** Byte offset of the frame in its segment. */
  offset: number;
  /** Byte offset just past the frame. */
  end: number;
  payload: unknown;
  /** The payload's bytes (a view into the chunk read): lets a reader pick a field without parsing. */
  bytes: Buffer;
}

export interface DamagedRange {
  offset: number;
  length: number;
  reason: 'checksum' | 'bad-length' | 'bad-type' | 'bad-json' | 'bad-magic' | 'zeroed';
}

export interface SegmentContents {
  records: JournalRecord[];
  damaged: DamagedRange[];
  /** Bytes of an incomplete last frame: a crash mid-write, or a writer still writing. */
  tornTailBytes: number;
  /** Where the next read should start: the end of the last whole frame. */
  nextOffset: number;
  /** The records ended in a zero-filled tail at `nextOffset`: nothing more to read until a writer stores more. */
  zeroTail: boolean;
  /** In a chunk (`final: false`): zeros from `nextOffset` to the end of the chunk; the rest of the file decides. */
  zeroRun: boolean;
}

/** Which record types get their JSON parsed; others keep `payload` undefined (cheaper). */
export type ParseFilter = (type: number) => boolean;

const parseAll: ParseFilter = () => true;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

function frameAt(
  buffer: Buffer,
  offset: number,
  parse: ParseFilter,
  resyncing: ControlByteScan | undefined,
): { record: JournalRecord } | { torn: true } | { bad: DamagedRange['reason'] } {
  if (offset + FRAME_HEADER_BYTES > buffer.length) return { torn: true };
  const length = buffer.readUInt32LE(offset);
  if (length > MAX_PAYLOAD_BYTES) return { bad: 'bad-length' };
  const type = buffer[offset + 8]!;
  const first = offset + FRAME_HEADER_BYTES;
  // Resyncing, cheap checks come before the checksum, and before a frame may be judged
  // torn: every payload a writer frames is a JSON object, of a known type. Checksummed
  // first, damage cost a checksum of up to the rest of the buffer at every offset whose
  // random length happened to fit: 8 MiB of garbage took 4.4 s to skip, the time growing
  // with the square of its size, and a random length past the buffer sent the chunked
  // reader back for a chunk as long. Now about one offset of garbage in ten million passes
  // these three bytes. Where a frame is expected (after a good one), the checksum decides
  // alone: a frame whose checksum holds around JSON that does not parse is a writer's bug,
  // read as a record and counted lost where it is used, not skipped as damage. Nor may a
  // payload hold a byte below 0x20 (controlBytes.ts): damage crafted to pass the three
  // checks at every 16th byte cost a checksum (and a read) of its claimed length at each.
  if (resyncing !== undefined) {
    if (!(type in RECORD_TYPE_NAMES)) return { bad: 'bad-type' };
    if (length === 0 || (first < buffer.length && buffer[first] !== OPEN_BRACE)) return { bad: 'bad-json' };
    if (resyncing.firstAtOrAfter(first) < Math.min(first + length, buffer.length)) return { bad: 'bad-json' };
  }
  const end = first + length;
  if (end > buffer.length) return { torn: true };
  if (resyncing !== undefined && buffer[end - 1] !== CLOSE_BRACE) return { bad: 'bad-json' };
  if (frameChecksum(buffer, offset + 8, length) !== buffer.readUInt32LE(offset + 4)) return { bad: 'checksum' };
  const payload = buffer.subarray(first, end);
  if (!(type in RECORD_TYPE_NAMES)) return { bad: 'bad-type' };
  if (!parse(type)) return { record: new FrameRecord(type, offset, end, undefined, payload) };
  try {
    return { record: new FrameRecord(type, offset, end, JSON.parse(payload.toString('utf8')), payload) };
  } catch {
    return { bad: 'bad-json' };
  }
}

/**
 * A class, not an object literal: V8 may pretenure a literal's site, and a record made in
 * the old generation keeps its payload's view alive until a full collection (see
 * ConvertedSpanRow in postgres/spanRows.ts).
 */
class FrameRecord implements JournalRecord {
  constructor(
    public type: number,
    public offset: number,
    public end: number,
    public payload: unknown,
    public bytes: Buffer,
  ) {}
}

const ZEROS = Buffer.alloc(64 * 1024);

/** The first byte at or after `from` that is not zero, or `buffer.length` (memcmp against a zero page: fast over megabytes). */
export function firstNonZero(buffer: Buffer, from: number): number {
  let at = from;
  while (at < buffer.length) {
    const end = Math.min(buffer.length, at + ZEROS.length);
    if (!buffer.subarray(at, end).equals(ZEROS.subarray(0, end - at))) break;
    at = end;
  }
  while (at < buffer.length && buffer[at] === 0) at++;
  return at;
}

/** Zero length and zero crc: unwritten bytes of a preallocated segment, or a zeroed range. */
function isZeroHeader(buffer: Buffer, offset: number): boolean {
  return offset + FRAME_HEADER_BYTES <= buffer.length && buffer.readUInt32LE(offset) === 0 && buffer.readUInt32LE(offset + 4) === 0;
}

function validFrameAfter(buffer: Buffer, from: number, parse: ParseFilter): boolean {
  const controls = new ControlByteScan(buffer);
  for (let offset = from; offset + FRAME_HEADER_BYTES <= buffer.length; offset++) {
    if ('record' in frameAt(buffer, offset, parse, controls)) return true;
  }
  return false;
}

/**
 * Parses `buffer`: a segment's bytes from `baseOffset` on (the magic is checked only when
 * reading from 0). An incomplete last frame is reported in `tornTailBytes` and left out of
 * `nextOffset`, so a reader tailing a live segment simply reads it again next time.
 * `final: false` says more of the file follows the buffer (a chunk): a frame or a damaged
 * range that runs into the end of the buffer is left for the next chunk, not judged here.
 */
export function readSegment(buffer: Buffer, baseOffset = 0, parse: ParseFilter = parseAll, final = true): SegmentContents {
  const records: JournalRecord[] = [];
  const damaged: DamagedRange[] = [];
  let offset = 0;
  if (baseOffset === 0) {
    if (buffer.length < SEGMENT_MAGIC.length) {
      // The start of a magic (then perhaps zeros) is a segment cut while its head was
      // written; anything else this short is not one (`inspect` of a three-byte text file).
      const magic = magicPrefixBytes(buffer);
      if (magic < buffer.length && firstNonZero(buffer, magic) < buffer.length) {
        return { records, damaged: [{ offset: 0, length: buffer.length, reason: 'bad-magic' }], tornTailBytes: 0, nextOffset: buffer.length, zeroTail: false, zeroRun: false };
      }
      return { records, damaged, tornTailBytes: buffer.length, nextOffset: 0, zeroTail: false, zeroRun: false };
    }
    const magic = magicPrefixBytes(buffer);
    if (magic < SEGMENT_MAGIC.length && firstNonZero(buffer, magic) === buffer.length) {
      // Preallocated, and the writer died before (or while) storing the magic: no records yet.
      return { records, damaged, tornTailBytes: magic, nextOffset: 0, zeroTail: final, zeroRun: !final };
    }
    if (magic < SEGMENT_MAGIC.length) {
      damaged.push({ offset: 0, length: SEGMENT_MAGIC.length, reason: 'bad-magic' });
    }
    offset = SEGMENT_MAGIC.length;
  }
  let damageStart = -1;
  let damageReason: DamagedRange['reason'] = 'checksum';
  let lastGoodEnd = offset;
  let zeroTail = false;
  let zeroRun = false;
  let tornBeforeZeros = 0;
  const controls = new ControlByteScan(buffer);
  while (offset < buffer.length) {
    if (isZeroHeader(buffer, offset)) {
      // Zeros to the end are the unwritten tail; zeros followed by data are damage, skipped
      // in one step rather than byte by byte. A frame's length may begin with up to three
      // zero bytes, so the scan resumes three bytes before the first non-zero one.
      const nonZero = firstNonZero(buffer, offset);
      if (nonZero === buffer.length) {
        if (damageStart >= 0 && damageStart === lastGoodEnd && damageReason !== 'zeroed') {
          // The last frame, cut by a crash while it was copied into a preallocated
          // segment: a torn tail, as a half-done write(2) would be.
          tornBeforeZeros = offset - damageStart;
          damageStart = -1;
          if (final) zeroTail = true;
          else zeroRun = true;
          break;
        }
        if (damageStart >= 0) {
          damaged.push({ offset: baseOffset + damageStart, length: offset - damageStart, reason: damageReason });
          damageStart = -1;
        }
        lastGoodEnd = offset;
        if (final) zeroTail = true;
        else zeroRun = true;
        break;
      }
      if (damageStart < 0) {
        damageStart = offset;
        damageReason = 'zeroed';
      }
      offset = Math.max(offset + 1, nonZero - 3);
      continue;
    }
    const result = frameAt(buffer, offset, parse, damageStart >= 0 ? controls : undefined);
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
    // In a chunk, a frame that may run on past its end is read again with the next chunk,
    // which is made long enough to hold it (SegmentFileReader.ts): there its checksum
    // tells a whole frame from a corrupted length field. (Looking for a valid frame after
    // it here cost a scan of the rest of the chunk at every offset, again at each larger
    // chunk: a 2 MiB record took about a second to read back.)
    if (!final && 'torn' in result) break;
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
    const damageEnd = final ? buffer.length : offset;
    damaged.push({ offset: baseOffset + damageStart, length: damageEnd - damageStart, reason: damageReason });
    lastGoodEnd = damageEnd;
  }
  return {
    records,
    damaged,
    tornTailBytes: zeroTail || zeroRun ? tornBeforeZeros : buffer.length - lastGoodEnd,
    nextOffset: baseOffset + lastGoodEnd,
    zeroTail,
    zeroRun,
  };
}

/** How many leading bytes match the segment magic. */
function magicPrefixBytes(buffer: Buffer): number {
  let matching = 0;
  while (matching < SEGMENT_MAGIC.length && buffer[matching] === SEGMENT_MAGIC[matching]) matching++;
  return matching;
}
