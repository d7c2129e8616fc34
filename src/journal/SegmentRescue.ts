// The ENDs and LOGs of a segment removed under the writer (a tmp cleaner or an operator
// deleted the journal directory, or the file) before the export side committed them.
// Writes into an unlinked file succeed and protect nothing: those records were then on disk
// only in that file, which the writer still holds open, and a kill before the export loop
// committed them (the database away) lost them: recovery never saw the spans, or saw only
// their STARTs and made crash records of spans that had ended (600 of 700 ended spans gone,
// on both write paths: test/crash/deletedJournalKill.test.ts). The repair keeps the file
// open, and the writer copies them, read back through its descriptor, into the live
// segment, RECORDS_RESCUED_PER_TURN a turn (JournalWriter.rescueRecords). A segment closed
// before the removal is read back the same way where the writer held it open for reading
// (HeldSegment): else its ENDs went with it (the test's 'closed before': 120 of 420 ended spans).
import { closeSync, readSync } from 'node:fs';
import { descriptorIsStill, descriptorLostError, type FileIdentity } from './fileIdentity.js';
import { isAtOrAfter, type JournalPosition } from './JournalPosition.js';
import { openRegularFileSync } from './regularFile.js';
import { RecordType } from './recordTypes.js';
import { readOpenSegmentChunkSync } from './SegmentFileReader.js';

/** What a rescue reads: the live segment still open (a SegmentFile), or a closed one held (HeldSegment). */
export interface RescueSource {
  /** Where its records end. */
  readonly bytes: number;
  readAt(buffer: Buffer, position: number): number;
  close(): void;
}

/**
 * Records copied per turn of the event loop: each is read back, parsed for the resource it
 * names and encoded again, ~8 µs for a span of ~850 bytes here (500 a turn added 4-8 ms
 * to the repair's turn), so a turn stays ~2 ms, as a carry's does (OPEN_SPANS_CARRIED_PER_TURN).
 */
export const RECORDS_RESCUED_PER_TURN = 250;

const wanted = (type: number): boolean => type === RecordType.SpanEnd || type === RecordType.LogRecord;

export interface RescuedRecord {
  type: RecordType.SpanEnd | RecordType.LogRecord;
  json: string;
  /** The resource it names (`r`), as the record holds it. */
  r: unknown;
  /** Where it ends in the removed segment. */
  end: number;
}

export class SegmentRescue {
  readonly segment: number;
  readonly #file: RescueSource;
  /** Where the next record to copy starts: the commit watermark at first. */
  #offset: number;
  /** Where the records end: nothing is written into the file any more. */
  readonly #end: number;

  /** `file`: the removed segment `segment`, still open; `from`: where its uncommitted records start. */
  constructor(file: RescueSource, segment: number, from: number) {
    this.#file = file;
    this.segment = segment;
    this.#offset = from;
    this.#end = file.bytes;
  }

  /**
   * The ENDs and LOGs of the next chunk from where the last one copied ended, and where that
   * chunk ends (past its other records and any damage: copiedTo it once they are copied);
   * undefined once there are none left, or the file cannot be read (what is left is then
   * counted lost by the export side, as any record it cannot read back).
   */
  read(): { records: RescuedRecord[]; nextOffset: number } | undefined {
    for (;;) {
      if (this.#offset >= this.#end) return undefined;
      let chunk: ReturnType<typeof readOpenSegmentChunkSync>;
      try {
        chunk = readOpenSegmentChunkSync((buffer, position) => this.#file.readAt(buffer, position), this.#end, { from: this.#offset, parse: wanted });
      } catch {
        return undefined;
      }
      const records: RescuedRecord[] = [];
      for (const record of chunk.records) {
        if (!wanted(record.type) || record.payload === undefined) continue;
        records.push({ type: record.type as RescuedRecord['type'], json: record.bytes.toString('utf8'), r: (record.payload as { r?: unknown }).r, end: record.end });
      }
      if (records.length > 0) return { records, nextOffset: chunk.done ? this.#end : chunk.nextOffset };
      if (chunk.done || chunk.nextOffset <= this.#offset) return undefined;
      this.#offset = chunk.nextOffset;
    }
  }

  /** Every record before `offset` is copied (or was none to copy). */
  copiedTo(offset: number): void {
    this.#offset = offset;
  }

  /** Whether a record ending at `end` here had been handed out by an export side that has read up to `readTo`. */
  handedOut(end: number, readTo: JournalPosition): boolean {
    return isAtOrAfter(readTo, { segment: this.segment, offset: end });
  }

  close(): void {
    this.#file.close();
  }
}

/**
 * A closed segment, open for reading while it holds ENDs or LOGs not yet committed (the
 * writer closes it once the commit watermark passes it): removed under the writer, its
 * records are read back from here. A descriptor the application closed (a sweep) is
 * neither read nor closed: its number may name a file of the application's.
 */
export class HeldSegment implements RescueSource {
  readonly bytes: number;
  readonly #fd: number;
  readonly #identity: FileIdentity;
  #closed = false;

  private constructor(fd: number, identity: FileIdentity, bytes: number) {
    this.#fd = fd;
    this.#identity = identity;
    this.bytes = bytes;
  }

  /** undefined where it cannot be opened (too many open files): the segment is then not held. */
  static open(path: string, bytes: number): HeldSegment | undefined {
    try {
      const { fd, identity } = openRegularFileSync(path);
      return new HeldSegment(fd, identity, bytes);
    } catch {
      return undefined;
    }
  }

  readAt(buffer: Buffer, position: number): number {
    if (this.#closed || !descriptorIsStill(this.#fd, this.#identity)) throw descriptorLostError('a held journal segment');
    return readSync(this.#fd, buffer, 0, buffer.length, position);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!descriptorIsStill(this.#fd, this.#identity)) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Only a descriptor.
    }
  }
}
