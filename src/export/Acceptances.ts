// What one exporter has accepted lately, across batches: the evidence that a refusal is
// about the data it was sent, not about the exporter. While calls of other runs succeed, a
// run that keeps being refused is refused for what it carries; in an outage nothing is
// accepted and no refusal counts against any run.

/** Who made a call: a run of a batch (BatchDelivery); compared by identity only. */
export type Caller = object;

interface Result {
  ok: boolean;
  by: Caller;
}

export class Acceptances {
  /** Calls accepted so far. */
  accepted = 0;
  private last: Result | undefined;
  /** The latest result by another caller than `last.by`. */
  private previous: Result | undefined;

  record(ok: boolean, by: Caller): void {
    if (ok) this.accepted += 1;
    if (this.last !== undefined && this.last.by !== by) this.previous = this.last;
    this.last = { ok, by };
  }

  /** The latest call that `caller` did not make was accepted. */
  lastOtherAccepted(caller: Caller): boolean {
    const other = this.last?.by === caller ? this.previous : this.last;
    return other?.ok === true;
  }
}
