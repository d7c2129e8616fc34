// The one reader of segment files: reads a segment from an offset in bounded chunks and
// parses each with readSegment, so memory stays at a chunk whatever the segment's size.
// The export tail (synchronously, on a live segment), recovery and `inspect` (both
// asynchronously, yielding to the event loop between chunks) all read through here.
import { closeSync, readSync } from 'node:fs';
import { descriptorIsStill, descriptorLostError } from './fileIdentity.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { MAX_PAYLOAD_BYTES, FRAME_HEADER_BYTES } from './frame.js';
import { firstNonZero, readSegment } from './readSegment.js';
import { openRegularFileSync } from './regularFile.js';
import type { DamagedRange, ParseFilter, SegmentContents } from './readSegment.js';

/**
 * 64 KiB (~100 span records). Recovering a 60,000-span journal inside an application on
 * this 2-vCPU VM (under load) with 1 MiB chunks stalled its event loop up to 130–290 ms
 * (p99 68–160 ms); with 64 KiB, 17–38 ms (p99 13–21 ms), and it finished no slower.
 */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** A frame never spans more than this, so a chunk never needs to grow beyond it. */
const MAX_CHUNK_BYTES = FRAME_HEADER_BYTES + MAX_PAYLOAD_BYTES;

export interface ReadOptions {
  /** Where to start: 0 (the magic is checked), or the end of a frame read before. */
  from?: number;
  chunkBytes?: number;
  parse?: ParseFilter;
  /** Read no further: the writer's own position in its live segment, which past it is preallocated zeros. */
  end?: number;
  /**
   * Read each chunk into this buffer when it fits, so the records returned point into it:
   * the caller must be done with a chunk's records before it asks for the next chunk.
   * (Without it every chunk is a new buffer outside V8's heap: reading a 571 MiB journal
   * twice, recovery's, made them trigger ~40 full collections.)
   */
  into?: Buffer;
}

/** A chunk's records; `done` once the segment's end (file end, or a zero-filled tail) is reached. */
export interface SegmentChunk extends SegmentContents {
  done: boolean;
}

/**
 * The chunking rule, once for both drivers: a generator that asks for byte ranges (yield
 * [position, length]) and receives their bytes, producing one parsed chunk per step. A
 * frame longer than the chunk makes the next chunk larger (up to the largest frame); a
 * zero run at a chunk's end is looked past before it is called the end of the records.
 */
function* chunkSteps(fileSize: number, options: ReadOptions): Generator<[number, number], SegmentChunk | undefined, Buffer> {
  const parse = options.parse ?? (() => true);
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  let offset = options.from ?? 0;
  let want = chunkBytes;
  let size = fileSize;
  for (;;) {
    if (offset >= size) return { records: [], damaged: [], tornTailBytes: 0, nextOffset: offset, zeroTail: false, zeroRun: false, done: true };
    const length = Math.min(want, size - offset);
    const buffer: Buffer = yield [offset, length];
    // A short read: the file is shorter than it was (a closed mapped segment is cut to its
    // records on the thread pool, maybe while it is read). Its end is where the read stopped.
    if (buffer.length < length) size = offset + buffer.length;
    const final = offset + buffer.length >= size;
    let contents = readSegment(buffer, offset, parse, final);
    if (contents.zeroRun) {
      // Zeros to the chunk's end: find the next non-zero byte of the file, if any.
      let at = offset + buffer.length;
      let nonZero = size;
      while (at < size) {
        const asked = Math.min(chunkBytes, size - at);
        const probe: Buffer = yield [at, asked];
        const found = firstNonZero(probe, 0);
        if (found < probe.length) {
          nonZero = at + found;
          break;
        }
        at += probe.length;
        if (probe.length < asked) size = nonZero = at;
      }
      if (nonZero === size) return { ...contents, zeroTail: true, zeroRun: false, done: true };
      // Data after the zeros: the parse counts them as damage, read from at most a chunk
      // before the data. Read across from where the records stopped, a run of zeros was
      // one buffer as long (a crafted 4 GiB hole: out of range, the records before it
      // never recovered; 256 MiB: 580 MiB held, a review's fuzzing).
      const from = Math.max(contents.nextOffset, nonZero - chunkBytes);
      const span: Buffer = yield [from, Math.min(nonZero + chunkBytes, size) - from];
      const more = readSegment(span, from, parse, from + span.length >= size);
      const damaged = [...contents.damaged, ...skippedBefore(contents, from, more.damaged)];
      contents = { ...more, records: [...contents.records, ...more.records], damaged };
    }
    const progressed = contents.nextOffset > offset;
    const atEnd = contents.zeroTail || contents.nextOffset + contents.tornTailBytes >= size;
    if (!progressed && !atEnd) {
      // A frame larger than the chunk: read it whole next time. The chunk doubles until it
      // holds what the frame's length field claims, in one read (each size in turn read a
      // 2 MiB frame six times over). The same sizes as doubling one read at a time: where a
      // chunk ends decides how damage inside it is counted (a review showed a chunk cut at
      // the claimed length counting a torn tail as 1,000 damaged bytes).
      const claimed = claimedFrameBytes(buffer);
      do want = Math.min(want * 2, MAX_CHUNK_BYTES);
      while (want < claimed && want < MAX_CHUNK_BYTES);
      if (length < want) continue;
    }
    want = chunkBytes;
    offset = contents.nextOffset;
    const done = atEnd || (!progressed && final);
    // A frame cut by this chunk's end is read whole with the next one: only the segment's
    // last chunk can have a torn tail. (Reported for every chunk, `inspect` printed "torn"
    // lines for intact segments and exited 3, and recovery's report summed them.)
    return { ...contents, tornTailBytes: done ? contents.tornTailBytes : 0, done };
  }
}

/**
 * `more`'s damage, with the bytes from where `contents` stopped to `from` (a torn frame,
 * then zeros) not read again but counted in front of it: in the range that starts at
 * `from`, which the parse opens there (it starts in zeros), as reading across counted them.
 */
function skippedBefore(contents: SegmentContents, from: number, more: DamagedRange[]): DamagedRange[] {
  const start = contents.nextOffset;
  if (from === start) return more;
  const reason = contents.tornTailBytes > 0 ? 'checksum' : 'zeroed';
  const [first, ...rest] = more;
  if (first !== undefined && first.offset === from) return [{ offset: start, length: first.length + (from - start), reason }, ...rest];
  return [{ offset: start, length: from - start, reason }, ...more];
}

/** The length of the frame at the start of `buffer`, header included, as its length field says (0 if unreadable). */
function claimedFrameBytes(buffer: Buffer): number {
  return buffer.length >= 4 ? FRAME_HEADER_BYTES + buffer.readUInt32LE(0) : 0;
}

/** Runs the chunking rule over one chunk's worth of steps with a synchronous or asynchronous source. */
function stepOnce(size: number, options: ReadOptions, read: (position: number, length: number) => Buffer): SegmentChunk {
  const steps = chunkSteps(size, options);
  let step = steps.next();
  while (!step.done) {
    const [position, length] = step.value;
    step = steps.next(read(position, length));
  }
  return step.value!;
}

/**
 * A chunk's reads: the first one into `into` when it fits, a later one (looking past a run
 * of zeros) into a buffer of its own, as it is read while the first one's records are
 * still wanted.
 */
function chunkReader(fd: number | ReadAt, into: Buffer | undefined): (position: number, length: number) => Buffer {
  const readAt: ReadAt = typeof fd === 'number' ? (buffer, position) => readSync(fd, buffer, 0, buffer.length, position) : fd;
  let reads = 0;
  return (position, length) => {
    const buffer = reads++ === 0 && into !== undefined && into.length >= length ? into : Buffer.allocUnsafe(length);
    return buffer.subarray(0, readAt(buffer.subarray(0, length), position));
  };
}

/** Reads into all of `buffer` from `position` what there is; returns the bytes read. */
type ReadAt = (buffer: Buffer, position: number) => number;

/**
 * One chunk of `path` from `options.from`, synchronously (the export tail on its own live
 * segment). undefined when the file does not exist (ENOENT); any other failure to open or
 * read it throws: a file that cannot be read now (EMFILE, EIO) is not a deleted one.
 */
export function readSegmentChunkSync(path: string, options: ReadOptions): SegmentChunk | undefined {
  let fd: number;
  let fileSize: number;
  try {
    ({ fd, size: fileSize } = openRegularFileSync(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const size = Math.min(fileSize, options.end ?? Infinity);
    return stepOnce(size, options, chunkReader(fd, options.into));
  } finally {
    closeSync(fd);
  }
}

/**
 * One chunk of a segment the writer still holds open, read through `readAt` (its
 * descriptor) up to `size`, the bytes it appended: the path may be gone (JournalWriter's
 * SegmentRescue).
 */
export function readOpenSegmentChunkSync(readAt: ReadAt, size: number, options: ReadOptions): SegmentChunk {
  return stepOnce(size, options, chunkReader(readAt, options.into));
}

/**
 * Reads per turn of the event loop while one chunk looks past a run of zeros: a dead
 * writer's spare segment, or a closed one it did not live to cut, is megabytes of zeros,
 * read in one step they stalled a recovering application's event loop (100 ms, bench/recovery.mjs).
 */
const READS_PER_TURN = 16;

/**
 * stepOnce for the asynchronous reader: yields to the event loop every READS_PER_TURN reads,
 * and after each turn checks that the descriptor is still its file (`stillOurs`).
 */
async function stepYielding(size: number, options: ReadOptions, read: (position: number, length: number) => Buffer, stillOurs: () => void): Promise<SegmentChunk> {
  const steps = chunkSteps(size, options);
  let step = steps.next();
  for (let reads = 1; !step.done; reads++) {
    if (reads % READS_PER_TURN === 0) {
      await nextTurn();
      stillOurs();
    }
    const [position, length] = step.value;
    step = steps.next(read(position, length));
  }
  return step.value!;
}

/**
 * Every chunk of a closed segment file, in order. The bytes are read synchronously (a 64 KiB
 * read from the page cache takes ~0.1 ms; the thread-pool round trip of an asynchronous
 * read left the reader idle a third of the time), and the generator yields to the event
 * loop before each chunk, so a host's timers and I/O run between them. Never throws on
 * damage; throws only when the file cannot be opened or read.
 */
export async function* readSegmentFile(path: string, options: ReadOptions = {}): AsyncGenerator<SegmentChunk> {
  const { fd, size, identity } = openRegularFileSync(path);
  // Open across turns of the event loop, in which the application may close it and give
  // the number to a file of its own (a descriptor sweep): that file is neither read as
  // this segment nor closed (fileIdentity.ts).
  let own = true;
  const stillOurs = (): void => {
    if (own && !descriptorIsStill(fd, identity)) own = false;
    if (!own) throw descriptorLostError(path);
  };
  try {
    let from = options.from ?? 0;
    for (;;) {
      await nextTurn();
      stillOurs();
      const chunk = await stepYielding(size, { ...options, from }, chunkReader(fd, options.into), stillOurs);
      yield chunk;
      if (chunk.done) return;
      from = chunk.nextOffset;
    }
  } finally {
    if (own && descriptorIsStill(fd, identity)) closeSync(fd);
  }
}
