// One attempt at delivering a batch's spans (or log records) to an exporter that may refuse
// some of them for good (refusalOf.ts). A refused call is sent again in halves, until each
// refused item stands alone; such an item goes to the dead letters and the rest are
// delivered. Without this, one span a collector could never take (a value it rejects, a
// span larger than its request limit) was retried for ever, and every batch behind it
// waited in the journal until the disk filled. The stock BatchSpanProcessor drops the
// whole batch instead. PostgresSpanExporter isolates its refusals itself, in SQL
// (isolateBadRecords.ts), and never reaches this.
//
// An item is dead-lettered only on proof that the refusal is about it, twice: sent alone and
// refused in two attempts (a backoff apart), each time after the same exporter had taken a
// call that started after this batch first failed. A receiver that refuses everything (a
// proxy answering 400 to every request) never gives that proof, and the items wait as in
// an outage; one that comes back meanwhile takes them when they are sent again. Proof
// comes from this exporter's own calls only (the span exporter's for spans, the log
// exporter's for log records), counted across batches by ReceiverCalls. Each attempt sends
// at most about 2·log2(n) calls, so a receiver refusing everything sees a handful per
// backoff, not one per item.
import type { ExportOutcome } from './exportBatch.js';
import { refusalOf } from './refusalOf.js';

/** Lone refusals, each proven, after which an item is dead-lettered. */
export const REFUSALS_TO_DEAD_LETTER = 2;

/** One exporter's calls, across batches: by their start order, which the exporter took. */
export class ReceiverCalls {
  /** Calls started so far: the last one's number. */
  started = 0;
  /** The number of the latest-started call the exporter took, 0 if none. */
  lastAcceptedStart = 0;

  /** The calls to `exporter`, shared by everything that sends to it (the export loop, an in-process recovery). */
  static of(exporter: object): ReceiverCalls {
    let calls = callsByExporter.get(exporter);
    if (calls === undefined) {
      calls = new ReceiverCalls();
      callsByExporter.set(exporter, calls);
    }
    return calls;
  }
}

const callsByExporter = new WeakMap<object, ReceiverCalls>();

/** What of one batch is settled (delivered, or dead-lettered) across its attempts. */
export class DeliveryProgress {
  #settled: boolean[] = [];
  #left = -1;
  /** ReceiverCalls.started when a call of this batch first failed: calls numbered above it started after. */
  failedAfter: number | undefined;
  /** Items refused alone with proof, by position: how many times. */
  readonly provenRefusals = new Map<number, number>();
  /** Positions of the items dead-lettered (settled without being delivered). */
  readonly deadLetteredAt: number[] = [];
  get deadLettered(): number {
    return this.deadLetteredAt.length;
  }
  /** An attempt has halved this batch: without new proof, later attempts send it whole, as in an outage. */
  halved = false;
  /**
   * The last attempt ended with refused items waiting for proof, and nothing else to retry:
   * the export loop sends later batches meanwhile (they bring the proof), a bounded number.
   */
  awaitingProof = false;

  /** Positions of the `count` items not settled yet. */
  pending(count: number): number[] {
    if (this.#left < 0) {
      this.#settled = new Array<boolean>(count).fill(false);
      this.#left = count;
    }
    const positions: number[] = [];
    for (let i = 0; i < count; i++) if (!this.#settled[i]) positions.push(i);
    return positions;
  }

  /** Whether every item is settled. */
  get done(): boolean {
    return this.#left === 0;
  }

  settle(positions: readonly number[]): void {
    for (const i of positions) {
      if (this.#settled[i]) continue;
      this.#settled[i] = true;
      this.#left -= 1;
    }
  }
}

export interface RefusalHandling<T> {
  /** One call to the exporter with these items. */
  send(items: T[]): Promise<ExportOutcome>;
  /**
   * Puts an item refused for good in the dead letters. Rejects when it could not be kept
   * for now (a disk error): the item then stays pending, safe in the journal.
   */
  deadLetter(item: T, reason: string, error: Error): Promise<void>;
  /** The exporter's calls, shared by every batch sent to it. */
  calls: ReceiverCalls;
}

const OK: ExportOutcome = { ok: true };

/**
 * Delivers the items of `items` not yet settled in `progress`: ok once each is delivered
 * or dead-lettered, else a failure to retry (with `late` when a call timed out: true once
 * its result came and every item is settled).
 */
export async function deliverIsolatingRefusals<T>(items: readonly T[], progress: DeliveryProgress, handling: RefusalHandling<T>): Promise<ExportOutcome> {
  const pending = progress.pending(items.length);
  if (pending.length === 0) return OK;
  const attempt = new Attempt(items, progress, handling, pending.length);
  const outcome = await attempt.send(pending, true);
  progress.awaitingProof = !progress.done && !outcome.ok && !outcome.aborted && outcome.late === undefined && refusalOf(outcome.error) !== undefined;
  if (progress.done) return OK;
  // Not done: an outage, a stop, or refusals not proven enough yet (tried after the backoff).
  return outcome.ok ? { ok: false, error: attempt.lastError ?? new Error('items are still pending'), aborted: false } : outcome;
}

class Attempt<T> {
  readonly #items: readonly T[];
  readonly #progress: DeliveryProgress;
  readonly #handling: RefusalHandling<T>;
  #callsLeft: number;
  lastError: Error | undefined;

  constructor(items: readonly T[], progress: DeliveryProgress, handling: RefusalHandling<T>, count: number) {
    this.#items = items;
    this.#progress = progress;
    this.#handling = handling;
    // The first call, then a descent to one refused item: two calls a level.
    this.#callsLeft = 2 * Math.ceil(Math.log2(count + 1)) + 2;
  }

  /** `first`: the attempt's first call, of every pending item. */
  async send(positions: number[], first = false): Promise<ExportOutcome> {
    const { calls } = this.#handling;
    this.#callsLeft -= 1;
    // Proof for a lone refusal: a call started after this batch first failed, taken before this one was sent.
    const proven = this.#takenSinceFailure();
    const number = ++calls.started;
    const outcome = await this.#handling.send(positions.map((i) => this.#items[i]!));
    if (outcome.ok) {
      this.#accepted(positions, number);
      return outcome;
    }
    this.lastError = outcome.error;
    this.#progress.failedAfter ??= calls.started;
    if (outcome.aborted) return outcome;
    if (outcome.late !== undefined) {
      // Timed out: its items may yet be taken, so nothing is sent again until its result
      // is in (retryWithBackoff awaits `late`); true only once every item is settled.
      const late = outcome.late.then((success) => {
        if (success) this.#accepted(positions, number);
        return this.#progress.done;
      });
      return { ok: false, error: outcome.error, aborted: false, late };
    }
    const reason = refusalOf(outcome.error);
    if (reason === undefined) return outcome;
    if (positions.length === 1) return this.#refusedAlone(positions[0]!, proven, reason, outcome);
    if (this.#callsLeft < 2) return outcome;
    // Halving again proves nothing until the exporter has taken something since: a receiver
    // refusing everything then sees one call per attempt after the first, as in an outage.
    if (first) {
      if (this.#progress.halved && !this.#takenSinceFailure()) return outcome;
      this.#progress.halved = true;
    }
    const middle = Math.ceil(positions.length / 2);
    const left = await this.send(positions.slice(0, middle));
    if (!left.ok && (left.aborted || left.late !== undefined || refusalOf(left.error) === undefined)) return left;
    const right = await this.send(positions.slice(middle));
    if (!right.ok) return right;
    return left;
  }

  /** Whether the exporter has taken a call that started after this batch first failed. */
  #takenSinceFailure(): boolean {
    const { failedAfter } = this.#progress;
    return failedAfter !== undefined && this.#handling.calls.lastAcceptedStart > failedAfter;
  }

  async #refusedAlone(position: number, proven: boolean, reason: string, outcome: ExportOutcome & { ok: false }): Promise<ExportOutcome> {
    if (!proven) return outcome;
    const refusals = (this.#progress.provenRefusals.get(position) ?? 0) + 1;
    this.#progress.provenRefusals.set(position, refusals);
    if (refusals < REFUSALS_TO_DEAD_LETTER) return outcome;
    try {
      await this.#handling.deadLetter(this.#items[position]!, reason, outcome.error);
    } catch (error) {
      // Not kept (a disk error): it stays pending in the journal, and is tried again.
      return { ok: false, error: error instanceof Error ? error : new Error(String(error)), aborted: false };
    }
    this.#progress.settle([position]);
    this.#progress.deadLetteredAt.push(position);
    return outcome;
  }

  #accepted(positions: readonly number[], number: number): void {
    this.#progress.settle(positions);
    const { calls } = this.#handling;
    calls.lastAcceptedStart = Math.max(calls.lastAcceptedStart, number);
  }
}
