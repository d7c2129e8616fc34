// Frames about to be written, encoded into one reusable buffer so a record costs no
// allocation; the END spans among them are kept with their offsets, so the writer knows
// where each landed once the write(2) is done.
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { encodeFrameInto } from './frame.js';
import type { RecordType } from './recordTypes.js';

/** 64 KiB: well under a pipe's or a page cache write's sweet spot, far above one span. */
const BUFFER_BYTES = 64 * 1024;

export class PendingWrites {
  private readonly buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private length = 0;
  private ends: WrittenRecord[] = [];

  get empty(): boolean {
    return this.length === 0;
  }

  /** Adds a frame; false when it does not fit beside what is already waiting. */
  add(type: RecordType, json: string, endedSpan?: ReadableSpan, log?: HeldLog): boolean {
    const written = encodeFrameInto(this.buffer, this.length, type, json);
    if (written < 0) return false;
    this.length += written;
    if (endedSpan) this.ends.push({ span: endedSpan, end: this.length });
    else if (log) this.ends.push({ log, end: this.length });
    return true;
  }

  /**
   * Everything waiting, emptied: the bytes (valid only until the next add()) and the END
   * spans with the offset just past each one's frame in those bytes.
   */
  take(): { data: Buffer; ends: WrittenRecord[] } {
    const taken = { data: this.buffer.subarray(0, this.length), ends: this.ends };
    this.length = 0;
    this.ends = [];
    return taken;
  }
}

/** A log record as the application emitted it, with its sequence number in the journal. */
export interface HeldLog {
  logRecord: ReadableLogRecord;
  sequence: number;
}

/** An END span or a LOG record, and the offset just past its frame. */
export type WrittenRecord = { span: ReadableSpan; log?: undefined; end: number } | { log: HeldLog; span?: undefined; end: number };
