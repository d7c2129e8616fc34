// One attempt at delivering a batch's spans (or log records) to an exporter that may refuse
// some of them for good (refusalOf.ts). A refused call is sent again in halves, until each
// refused item stands alone; such an item goes to the dead letters and the rest are
// delivered. Without this, one span a collector could never take (a value it rejects, a
// span larger than its request limit) was retried for ever, and every batch behind it
// waited in the journal until the disk filled. The stock BatchSpanProcessor drops the
// whole batch instead. PostgresSpanExporter isolates its refusals itself, in SQL
// (isolateBadRecords.ts), and never reaches this.
//
// An item refused alone is dead-lettered only on proof that the refusal is about it: the
// exporter took something (other items of the batch, another batch) after the batch first
// failed and before the item was sent alone; one refused before that is sent alone once
// more. A receiver that refuses everything (a proxy answering 400 to every request) proves
// nothing, and the items wait for the next attempt as in an outage; one that comes back
// meanwhile takes them when they are sent again. Each attempt sends at most about
// 2·log2(n) calls, so a receiver refusing everything sees a handful per backoff, not one
// per span.
import type { ExportOutcome } from './exportBatch.js';
import { refusalOf } from './refusalOf.js';

/** What of one batch is settled (delivered, or dead-lettered) across its attempts. */
export class DeliveryProgress {
  #settled: boolean[] = [];
  #left = -1;
  /** Calls of this batch's items the exporter took, across attempts. */
  accepted = 0;
  /** acceptances() when a call of this batch first failed: see Attempt.#proven. */
  failedAt: number | undefined;

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

  /** Whether every item is settled; true for a batch never started with no items. */
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
  /** Puts an item refused for good in the dead letters; resolves once it is there (or said lost). */
  deadLetter(item: T, reason: string, error: Error): Promise<void>;
  /** A growing count of what the exporter took outside this batch (other batches). */
  acceptedElsewhere?: () => number;
}

const OK: ExportOutcome = { ok: true };

/** Delivers the items of `items` not yet settled in `progress`: ok once each is delivered or dead-lettered. */
export async function deliverIsolatingRefusals<T>(items: readonly T[], progress: DeliveryProgress, handling: RefusalHandling<T>): Promise<ExportOutcome> {
  const pending = progress.pending(items.length);
  if (pending.length === 0) return OK;
  const attempt = new Attempt(items, progress, handling, pending.length);
  let outcome = await attempt.send(pending, true);
  // Items refused alone before anything was taken: sent alone once more, now that something was.
  if (!progress.done && (outcome.ok || (!outcome.aborted && refusalOf(outcome.error) !== undefined))) outcome = await attempt.confirmRefusals(outcome);
  // Not done: an outage, a stop, or refusals not proven (tried again after the backoff).
  return progress.done ? OK : outcome;
}

class Attempt<T> {
  readonly #items: readonly T[];
  readonly #progress: DeliveryProgress;
  readonly #handling: RefusalHandling<T>;
  #callsLeft: number;
  /** Items refused alone without proof: the positions. */
  readonly #unproven: number[] = [];

  constructor(items: readonly T[], progress: DeliveryProgress, handling: RefusalHandling<T>, count: number) {
    this.#items = items;
    this.#progress = progress;
    this.#handling = handling;
    // The first call, a descent to one refused item (two calls a level), and its confirmation.
    this.#callsLeft = 2 * Math.ceil(Math.log2(count + 1)) + 4;
  }

  /** `all`: these are every item still pending, so a late success settles the batch, as retryWithBackoff expects. */
  async send(positions: number[], all: boolean): Promise<ExportOutcome> {
    this.#callsLeft -= 1;
    const before = this.#acceptances();
    const outcome = await this.#handling.send(positions.map((i) => this.#items[i]!));
    if (outcome.ok) {
      this.#accepted(positions);
      return outcome;
    }
    this.#progress.failedAt ??= before;
    if (outcome.aborted) return outcome;
    if (outcome.late !== undefined) {
      // Timed out: its items may yet be taken. Only a call of every pending item may hand
      // its late result to the retry loop, which then counts the whole batch delivered.
      const late = outcome.late.then((success) => {
        if (success) this.#accepted(positions);
        return success;
      });
      return all ? { ...outcome, late } : { ok: false, error: outcome.error, aborted: false };
    }
    const reason = refusalOf(outcome.error);
    if (reason === undefined) return outcome;
    if (positions.length === 1) {
      if (this.#proven(before)) await this.#deadLetter(positions[0]!, reason, outcome.error);
      else this.#unproven.push(positions[0]!);
      return outcome;
    }
    if (this.#callsLeft < 2) return outcome;
    const middle = Math.ceil(positions.length / 2);
    const left = await this.send(positions.slice(0, middle), false);
    if (!left.ok && (left.aborted || refusalOf(left.error) === undefined)) return left;
    if (this.#callsLeft < 1) return left.ok ? outcome : left;
    const right = await this.send(positions.slice(middle), false);
    if (!right.ok) return right;
    return left.ok ? OK : left;
  }

  /** Sends each unproven item alone again, once something has been taken since the batch first failed. */
  async confirmRefusals(outcome: ExportOutcome): Promise<ExportOutcome> {
    let last = outcome;
    for (const position of this.#unproven.splice(0)) {
      if (!this.#proven(this.#acceptances()) || this.#callsLeft < 1) break;
      last = await this.send([position], false);
      if (!last.ok && (last.aborted || refusalOf(last.error) === undefined)) break;
    }
    return last;
  }

  /**
   * Whether a refusal of one item, sent when the exporter had taken `before` calls, is about
   * that item: the exporter took something after this batch first failed and before the
   * item was sent, so it was taking data then. A receiver that refuses everything never
   * does; one that came back meanwhile takes the item when it is sent again.
   */
  #proven(before: number): boolean {
    return this.#progress.failedAt !== undefined && before > this.#progress.failedAt;
  }

  #acceptances(): number {
    return this.#progress.accepted + (this.#handling.acceptedElsewhere?.() ?? 0);
  }

  async #deadLetter(position: number, reason: string, error: Error): Promise<void> {
    await this.#handling.deadLetter(this.#items[position]!, reason, error);
    this.#progress.settle([position]);
  }

  #accepted(positions: readonly number[]): void {
    this.#progress.settle(positions);
    this.#progress.accepted += 1;
  }
}
