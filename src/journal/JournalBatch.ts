// A batch of the journal's ENDs and LOGs as the export side holds it while the exporter
// works on it, which under overload means while it waits on the database for 100 ms or
// more. Spans read back from disk are held as their records' bytes, copied into one
// buffer, and parsed anew each time the batch is exported: held as parsed ReadableSpans,
// they outlived several scavenges, were promoted, and the old generation grew with them
// (bench/overload.mjs: the parsed spans and their JSON were half of the garbage that
// reached the old generation). Spans taken from RecentEnds are the application's own
// objects, already made: those are held as they are.
import { safeDiag } from '../safeDiag.js';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { JournalPosition } from './JournalPosition.js';
import { SpanPayloads } from './SpanPayloads.js';

/**
 * A batch ends once its records hold this many characters of JSON, however few they are
 * (one record at least). Records may be up to 64 MiB each (recordCap.ts): 512 of them made
 * one transaction of many gigabytes, past what PostgreSQL takes in one message, and the
 * batch failed, and was tried again, for good, holding back every record after it. Here
 * only batches of very large records are cut: 512 ordinary spans take a few hundred KiB.
 */
export const MAX_BATCH_CHARS = 16 * 1024 * 1024;

export interface JournalLog {
  logRecord: ReadableLogRecord;
  writerId: string;
  sequence: number;
}

export class JournalBatch {
  /** Log records journaled before `until`, keyed by this writer's id and their sequence (none once let go). */
  logs: JournalLog[];
  /**
   * Spans still open (START without END so far) that a log record of the batch belongs
   * to: their 'started' row must commit with the log (exportWithLogs makes it).
   */
  openSpans: ReadableSpan[];
  /** Where reading stopped: committing the batch moves the watermark here. */
  readonly until: JournalPosition;
  /** The ENDs: the application's span objects (taken from RecentEnds), or bytes read from disk. */
  #ends: readonly ReadableSpan[] | SpanPayloads;
  /** Set once let go: the counts the commit still needs. */
  #counted: { spans: number; logs: number } | undefined;
  /** The ENDs parsed by parseAhead(), for the next spansInto() only. */
  #ahead: ReadableSpan[] | undefined;
  /** ENDs whose record did not parse: known after the first `spansInto()`. */
  #unreadable: number | undefined;

  constructor(ends: readonly ReadableSpan[] | SpanPayloads, logs: JournalLog[], openSpans: ReadableSpan[], until: JournalPosition) {
    this.#ends = ends;
    this.logs = logs;
    this.openSpans = openSpans;
    this.until = until;
  }

  /** SPAN_END records in the batch. */
  get spanCount(): number {
    if (this.#counted !== undefined) return this.#counted.spans;
    return this.#ends instanceof SpanPayloads ? this.#ends.count : this.#ends.length;
  }

  /** LOG records in the batch. */
  get logCount(): number {
    return this.#counted?.logs ?? this.logs.length;
  }

  /**
   * Exported, and held only until the batches before it commit (the export loop commits in
   * order): its records go, its counts stay. Not exported again after this.
   */
  letGo(): void {
    if (this.#counted !== undefined) return;
    this.#counted = { spans: this.spanCount, logs: this.logs.length };
    this.release();
    this.#ends = [];
    this.logs = [];
    this.openSpans = [];
  }

  /** Records of the batch that turned out unreadable when parsed: lost, not committed. */
  get unreadable(): number {
    return this.#unreadable ?? 0;
  }

  /**
   * Parses the ENDs read from disk ahead of the first export attempt, a slice at a time,
   * awaiting what `betweenSlices()` returns between two: parsed all at once in the attempt,
   * a 2048-span batch held the event loop 13-28 ms. The next spansInto() takes them; later
   * attempts parse anew.
   */
  async parseAhead(betweenSlices: () => Promise<void> | undefined): Promise<void> {
    if (!(this.#ends instanceof SpanPayloads)) return;
    const parsed: ReadableSpan[] = [];
    this.#parsed(await this.#ends.parseInSlices(parsed, betweenSlices));
    this.#ahead = parsed;
  }

  /** Appends the batch's ended spans to `into`, in journal order: for each export attempt (see the header). */
  spansInto(into: ReadableSpan[]): ReadableSpan[] {
    const ends = this.#ahead ?? this.#ends;
    this.#ahead = undefined;
    if (!(ends instanceof SpanPayloads)) {
      for (const span of ends) into.push(span);
      return into;
    }
    this.#parsed(ends.parse(into));
    return into;
  }

  /** A pass over the ENDs from disk is done: `unreadable` of them did not parse (said once). */
  #parsed(unreadable: number): void {
    if (this.#unreadable === undefined && unreadable > 0) {
      safeDiag.error(`otel-blackbox: ${unreadable} ended spans in the journal could not be parsed (their checksum held); they are lost`);
    }
    this.#unreadable = unreadable;
  }

  /** Committed: what the batch read back goes back for the next batches (it is not read again). */
  release(): void {
    this.#ahead = undefined;
    if (this.#ends instanceof SpanPayloads) this.#ends.release();
  }
}
