// The ENDs and LOGs of a segment removed under the writer (a tmp cleaner or an operator
// deleted the journal directory, or the file) before the export side committed them.
// Writes into an unlinked file succeed and protect nothing: those records were then on disk
// only in that file, which the writer still holds open, and a kill before the export loop
// committed them (the database away) lost them: recovery never saw the spans, or saw only
// their STARTs and made crash records of spans that had ended (600 of 700 ended spans gone,
// on both write paths: test/crash/deletedJournalKill.test.ts). The repair keeps the file
// open, and the writer copies them, read back through its descriptor, into the live
// segment, RECORDS_RESCUED_PER_TURN a turn (JournalWriter.rescueRecords).
import { isAtOrAfter, type JournalPosition } from './JournalPosition.js';
import { RecordType } from './recordTypes.js';
import { readOpenSegmentChunkSync } from './SegmentFileReader.js';
import type { SegmentFile } from './segmentFile/openSegmentFile.js';

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
  readonly #file: SegmentFile;
  /** Where the next record to copy starts: the commit watermark at first. */
  #offset: number;
  /** Where the records end: nothing is written into the file any more. */
  readonly #end: number;

  /** `file`: the removed segment `segment`, still open; `from`: where its uncommitted records start. */
  constructor(file: SegmentFile, segment: number, from: number) {
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
