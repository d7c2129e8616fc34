// What of one batch its exporters have accepted, and what is left to send. A batch has one
// or two parts (its spans for the span exporter; its log records for the logExporter, when
// the span exporter cannot take them), each held as runs of items not yet accepted, so a
// part once accepted is never sent again when the other fails: a log exporter failing once
// had every span of its batch sent twice (review, repro 08).
//
// A run refused while the same exporter accepts other calls (Acceptances: evidence that it
// is the data, not the exporter) is split in halves, and a run of one item still refused
// after REFUSALS_BEFORE_DROP such refusals is given up: the caller drops it, counts it and
// says so. Without it, one span an OTLP collector refused for good (413 Payload Too Large)
// was sent for the life of the process and, the commit watermark moving in order, held
// back every span after it: 2 of 50 later spans delivered, against 50 of 50 for the stock
// BatchSpanProcessor (review, repro 16). In an outage nothing is accepted, no refusal
// counts, nothing is split or dropped: the batch is retried as long as it takes.
//
// A part that does not isolate (PostgresSpanExporter's spans and log records, which it
// sends to dead_letters one by one itself, isolateBadRecords.ts) is always sent whole and
// never dropped: a failure it reports is the database's, not the data's.
import type { Acceptances } from './Acceptances.js';
import type { CallWatch, ExportOutcome } from './exportBatch.js';

/**
 * Refusals with evidence after which one item alone is dropped. Each needs a call of
 * another run accepted since the one before (or, when no other batch can start, the last
 * call of another run accepted): behind an exporter that refuses half of all calls at
 * random, one item in 2^8 would be struck out, where the stock processor drops half.
 */
export const REFUSALS_BEFORE_DROP = 8;

export interface BatchPart {
  /** 'spans' or 'log records': for messages. */
  readonly name: string;
  readonly count: number;
  /** Who accepted this part's calls lately: one per exporter, shared by every batch. */
  readonly acceptances: Acceptances;
  /** false: sent whole, never split nor dropped (see the header). */
  readonly isolates: boolean;
  /** Sends items [from, to) of the part (the whole part when it does not isolate). */
  send(from: number, to: number, watch: CallWatch): Promise<ExportOutcome>;
}

/** Items [from, to) of a part, not yet accepted. */
interface Run {
  readonly part: BatchPart;
  readonly from: number;
  readonly to: number;
  refusals: number;
  /** `part.acceptances.accepted` when the run was made or last refused. */
  acceptedSeen: number;
}

export type AttemptOutcome =
  | { ok: true; timedOut: boolean }
  | {
      ok: false;
      /** The call passed its timeout before it settled (BatchDelivery's onTimeout was told). */
      timedOut: boolean;
      error: Error;
      aborted: boolean;
      /** Refused while the exporter accepts other calls: the data, not an outage. */
      refusedForData: boolean;
      /** The call was given up after LATE_RESULT_FACTOR timeouts without a result. */
      givenUp: boolean;
    };

export interface DeliveryHooks {
  /** Whether no other batch can start until this one is done: then the last other call's result is the evidence. */
  stalled: () => boolean;
  /** Items [from, to) of `part` refused for good: the caller drops them, counts them and says so. */
  onRefused: (part: BatchPart, from: number, to: number, error: Error) => void;
  /** A call passed its timeout; its result is still awaited. */
  onTimeout: (error: Error) => void;
  /** A call given up came back after all; `delivered` when it was accepted and counted so. */
  onLateResult: (outcome: ExportOutcome, delivered: boolean) => void;
}

export class BatchDelivery {
  /** Runs still to send, the next one first; a refused run goes to the back, so its siblings go first. */
  private runs: Run[];
  private readonly hooks: DeliveryHooks;
  /** Items given up, by part name. */
  readonly refused = new Map<string, number>();

  constructor(parts: BatchPart[], hooks: DeliveryHooks) {
    this.hooks = hooks;
    this.runs = parts.filter((part) => part.count > 0).map((part) => runOf(part, 0, part.count));
  }

  get done(): boolean {
    return this.runs.length === 0;
  }

  /** Items of `part` given up (0 for a part not isolated). */
  refusedOf(part: string): number {
    return this.refused.get(part) ?? 0;
  }

  /** One call for the next run still to send. */
  async attempt(): Promise<AttemptOutcome> {
    const run = this.runs[0];
    if (run === undefined) return { ok: true, timedOut: false };
    let timedOut = false;
    const watch: CallWatch = {
      onTimeout: (error) => {
        timedOut = true;
        this.hooks.onTimeout(error);
      },
      onLateResult: (outcome) => {
        const delivered = outcome.ok && this.markDelivered(run);
        this.hooks.onLateResult(outcome, delivered);
      },
    };
    const outcome = await run.part.send(run.from, run.to, watch);
    const { acceptances } = run.part;
    // Accepted meanwhile (a late SUCCESS of a call given up): this call's result is moot.
    if (!this.runs.includes(run)) return { ok: true, timedOut };
    if (outcome.ok) {
      acceptances.record(true, run);
      this.runs = this.runs.filter((r) => r !== run);
      return { ok: true, timedOut };
    }
    const givenUp = outcome.givenUp === true;
    if (outcome.aborted) return { ...outcome, timedOut, refusedForData: false, givenUp };
    const refusedForData = run.part.isolates && (acceptances.accepted > run.acceptedSeen || (this.hooks.stalled() && acceptances.lastOtherAccepted(run)));
    run.acceptedSeen = acceptances.accepted;
    acceptances.record(false, run);
    this.runs = this.runs.filter((r) => r !== run);
    this.runs.push(...(refusedForData ? this.isolate(run, outcome.error) : [run]));
    return { ...outcome, timedOut, refusedForData, givenUp };
  }

  /** A run refused for its data: halved, or given up when it is one item refused often enough. */
  private isolate(run: Run, error: Error): Run[] {
    run.refusals += 1;
    const size = run.to - run.from;
    if (size > 1) {
      const middle = run.from + Math.ceil(size / 2);
      return [runOf(run.part, run.from, middle), runOf(run.part, middle, run.to)];
    }
    if (run.refusals < REFUSALS_BEFORE_DROP) return [run];
    this.refused.set(run.part.name, this.refusedOf(run.part.name) + size);
    this.hooks.onRefused(run.part, run.from, run.to, error);
    return [];
  }

  /** Items of `accepted` no longer wait, wherever the runs still holding them were split to. */
  private markDelivered(accepted: Run): boolean {
    let overlapped = false;
    const left: Run[] = [];
    for (const run of this.runs) {
      if (run.part !== accepted.part || run.to <= accepted.from || run.from >= accepted.to) {
        left.push(run);
        continue;
      }
      overlapped = true;
      if (run.from < accepted.from) left.push(runOf(run.part, run.from, accepted.from));
      if (run.to > accepted.to) left.push(runOf(run.part, accepted.to, run.to));
    }
    this.runs = left;
    accepted.part.acceptances.record(true, accepted);
    return overlapped;
  }
}

function runOf(part: BatchPart, from: number, to: number): Run {
  return { part, from, to, refusals: 0, acceptedSeen: part.acceptances.accepted };
}
