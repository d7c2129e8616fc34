// The asynchronous half of the processor: forms batches from the memory queue and the
// journal, makes up to maxConcurrentExports export() calls at once (ExportSlots), retries a
// failed batch with backoff for as long as the process lives, and marks batches committed
// strictly in the order they were read, so the journal's commit watermark is one increasing
// position even when a later batch commits first.
//
// What of a batch was accepted is remembered (BatchDelivery): a part is never sent again,
// and items the exporter refuses while it accepts others are isolated and dropped, counted
// and said, so the watermark moves on. A batch delivered behind one still being retried
// waits for its turn without holding a call, up to DELIVERED_AHEAD of them, and the next
// batches are tried meanwhile: they are the evidence that tells refused data from an outage.
//
// Stopping has one cancellation path: the `signal` the owner aborts when its stop deadline
// passes. Every export wait, backoff and idle tick races it; once it has aborted no batch
// is formed and export() is never called again, so the owner may shut the exporter down.
import { safeDiag } from '../safeDiag.js';
import type { Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { abortableDelay } from '../export/abortableDelay.js';
import { Acceptances } from '../export/Acceptances.js';
import { retryDelayMillis } from '../export/backoff.js';
import { BatchDelivery, REFUSALS_BEFORE_DROP, type AttemptOutcome, type BatchPart } from '../export/BatchDelivery.js';
import { batchParts } from '../export/batchParts.js';
import type { ExportOutcome } from '../export/exportBatch.js';
import type { Journal, JournalBatch } from '../journal/Journal.js';
import { droppedInEpisode, type DropCounter, type DropEpisode } from './DropCounter.js';
import { ExportSlots } from './ExportSlots.js';
import type { MemorySpanQueue } from './MemorySpanQueue.js';
import { overflowSpan } from './overflowSpan.js';

/** The reasons under which refused items are counted (spansDroppedByReason, logRecordsDroppedByReason). */
export const REFUSED_SPANS_REASON = 'refused by the exporter';
export const REFUSED_LOG_RECORDS_REASON = 'refused by the logExporter';

export interface ExportLoopOptions {
  exporter: SpanExporter;
  /** Where the journal's log records go when `exporter` cannot take them with spans. */
  logExporter?: LogRecordExporter;
  queue: MemorySpanQueue;
  drops: DropCounter;
  /** The journal, when there is one (there may be none yet, or ever). */
  journal: () => Journal | undefined;
  /** 'started' rows for spans open longer than pendingSpanMillis, not yet sent: exported with the next batch. */
  pendingSpans?: (max: number) => ReadableSpan[];
  /** The resource the overflow marker carries: the application's, once a span was seen. */
  resource: () => Resource;
  maxExportBatchSize: number;
  maxConcurrentExports: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  /** Aborted by the owner when its stop deadline passes (see the header). */
  signal: AbortSignal;
}

interface InFlight {
  batch: Batch;
  /** undefined while exporting; true once delivered (committed in its turn); false when abandoned at the stop deadline. */
  outcome: boolean | undefined;
}

interface Batch {
  /** Spans held in memory (the queue's, an overflow marker, 'started' rows): the journal's come from `journal`. */
  spans: ReadableSpan[];
  fromQueue: number;
  journal?: JournalBatch;
  drops?: DropEpisode;
  /** A call of it failed and it is not delivered yet: counted in `failingBatches`. */
  failing?: boolean;
  /** Its overflow marker was refused for good (said then, not "recorded" later). */
  markerRefused?: boolean;
}

interface FlushWaiter {
  journalEnds: number;
  queueAccepted: number;
  resolve: (done: boolean) => void;
}

/** The pause before a batch whose export threw unexpectedly is tried again. */
const UNEXPECTED_FAILURE_PAUSE_MILLIS = 5_000;
/**
 * Batches delivered behind one not yet delivered, held (their positions, and any spans the
 * journal handed over as the application's objects) until their turn to commit. Enough for
 * REFUSALS_BEFORE_DROP refusals with evidence twice over; past it the loop waits, and a
 * refused batch is judged by the last call of another (BatchDelivery).
 */
const DELIVERED_AHEAD = 2 * REFUSALS_BEFORE_DROP;
/**
 * Idle, a scheduledDelayMillis shorter than this grows to it, doubling at each pass that
 * finds nothing: a 0 ms delay re-armed a 0 ms timer for good, 138–174 ms of CPU per 3 s of
 * idling where the stock processor spends 1 ms (review, repro 05). A batch found, or a
 * notify(), brings the delay back to scheduledDelayMillis.
 */
const IDLE_CEILING_MILLIS = 50;

export class ExportLoop {
  private readonly options: ExportLoopOptions;
  private readonly signal: AbortSignal;
  /** Ends the current idle wait early: new work arrived. Not a cancellation: see `signal`. */
  private wakeUp: (() => void) | undefined;
  private urgent = false;
  private stopping = false;
  private stopped = false;
  /** Batches with a failed call, not delivered yet: "export failed" is said when the first begins, "recovered" when none is left. */
  private failingBatches = 0;
  /** A call passed exportTimeoutMillis, and none has come back in time since: said once. */
  private slowSaid = false;
  private running: Promise<void> | undefined;
  private waiters: FlushWaiter[] = [];
  /** Every batch held, oldest first: being exported, waiting to retry, or delivered and waiting for its turn to commit. */
  private inFlight: InFlight[] = [];
  private undelivered = 0;
  private readonly slots: ExportSlots;
  private readonly acceptances = { spans: new Acceptances(), logs: new Acceptances() };
  /** Export calls that failed or passed exportTimeoutMillis, and spans the exporter has accepted: for stats(). */
  exportFailures = 0;
  spansExported = 0;
  logRecordsExported = 0;

  constructor(options: ExportLoopOptions) {
    this.options = options;
    this.signal = options.signal;
    this.slots = new ExportSlots(options.maxConcurrentExports);
    this.signal.addEventListener('abort', () => this.wakeUp?.(), { once: true });
  }

  start(): void {
    this.running ??= this.run();
  }

  /** A full batch is waiting (or a flush was asked for): export now rather than at the next tick. */
  notify(): void {
    this.urgent = true;
    this.wakeUp?.();
  }

  /**
   * A record was journaled and `backlog` wait now: wakes the loop at a full batch, and at
   * once when the configured delay is shorter than IDLE_CEILING_MILLIS, which an idle loop
   * waits instead (a lone span would wait that long, not the delay asked for).
   */
  recordWritten(backlog: number): void {
    if (backlog >= this.options.maxExportBatchSize || this.options.scheduledDelayMillis < IDLE_CEILING_MILLIS) this.notify();
  }

  /**
   * Resolves true once everything ended before this call is committed, false at the timeout
   * or when the loop stopped first. Its timer is ref'd: a caller awaiting a flush keeps the
   * process alive until it settles, within `timeoutMillis`.
   */
  flush(timeoutMillis: number): Promise<boolean> {
    const waiter: FlushWaiter = {
      journalEnds: this.options.journal()?.recordsWritten ?? 0,
      queueAccepted: this.options.queue.accepted,
      resolve: () => {},
    };
    if (this.isFlushed(waiter)) return Promise.resolve(true);
    if (this.stopped || this.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMillis);
      waiter.resolve = (done) => {
        clearTimeout(timer);
        resolve(done);
      };
      this.waiters.push(waiter);
      this.notify();
    });
  }

  /**
   * Drains what it can, then stops: resolves once nothing is left to export, or once
   * `signal` has aborted and the batches in flight are abandoned. What is left stays in
   * the journal. The owner bounds it by aborting the signal at its deadline.
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    return this.running ?? Promise.resolve();
  }

  private isFlushed(waiter: FlushWaiter): boolean {
    const committed = this.options.journal()?.settled ?? 0;
    return committed >= waiter.journalEnds && this.options.queue.settled >= waiter.queueAccepted;
  }

  private settleWaiters(): void {
    // Spans abandoned at the deadline count as settled in the queue, but were not flushed.
    if (this.waiters.length === 0 || this.signal.aborted) return;
    const still: FlushWaiter[] = [];
    for (const waiter of this.waiters) {
      if (this.isFlushed(waiter)) waiter.resolve(true);
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private async run(): Promise<void> {
    const delay = this.options.scheduledDelayMillis;
    let idleMillis = delay;
    for (;;) {
      let found = false;
      while (!this.signal.aborted && this.canStartBatch()) {
        const batch = this.nextBatch();
        if (!batch) break;
        this.launch(batch);
        found = true;
      }
      if (this.inFlight.length === 0) {
        this.settleWaiters();
        if (this.stopping || this.signal.aborted) break;
      }
      idleMillis = found || this.urgent ? delay : idleAfter(idleMillis, delay);
      // Once aborted, the batches in flight end at once: wait for them, not for a timer. When
      // no batch can start, only a batch settling or a call ending can change that, and each
      // notifies: no timer either.
      if (!this.urgent) await this.sleep(this.signal.aborted || !this.canStartBatch() ? undefined : idleMillis);
      if (this.urgent) idleMillis = delay;
      this.urgent = false;
    }
    this.stopped = true;
    // Nothing will be committed any more: a flush still waiting is told so now. (Only an
    // abort leaves one waiting: a drained stop settled them all above.)
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters = [];
  }

  /**
   * A call is free, at most one batch more than calls waits to retry (under
   * maxConcurrentExports 1, the other batch that tells refused data from an outage), and
   * no more than DELIVERED_AHEAD batches wait for their turn to commit.
   */
  private canStartBatch(): boolean {
    const { maxConcurrentExports } = this.options;
    return this.slots.free > 0 && this.undelivered <= maxConcurrentExports && this.inFlight.length < maxConcurrentExports + 1 + DELIVERED_AHEAD;
  }

  /** No batch can start until the oldest one held is committed. */
  private stalled(): boolean {
    return this.inFlight.length >= this.options.maxConcurrentExports + 1 + DELIVERED_AHEAD;
  }

  private launch(batch: Batch): void {
    const entry: InFlight = { batch, outcome: undefined };
    this.inFlight.push(entry);
    this.undelivered += 1;
    // Nothing rejects unhandled (that would end the application's process).
    void this.exportUntilSettled(batch)
      .then((committed) => {
        entry.outcome = committed;
        this.undelivered -= 1;
        this.markCommittedInOrder();
        this.settleWaiters();
        this.notify();
      })
      .catch((error: unknown) => safeDiag.error('otel-blackbox: the export loop failed to settle a batch', error));
  }

  /** Journal batches are marked committed oldest first, only past a contiguous run of finished ones. */
  private markCommittedInOrder(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].outcome !== undefined) {
      const { batch, outcome } = this.inFlight.shift()!;
      if (outcome && !this.signal.aborted && batch.journal) this.options.journal()?.committed(batch.journal);
    }
  }

  /**
   * The journal's next batch, which must never throw; if it does all the same, none this
   * time (tried again after the delay): a throw here rejected the loop's promise,
   * unhandled, and ended the application's process.
   */
  private journalBatch(maxRecords: number): JournalBatch | undefined {
    try {
      return this.options.journal()?.nextBatch(maxRecords);
    } catch (error) {
      safeDiag.error('otel-blackbox: the export loop could not read the journal; it tries again', error);
      return undefined;
    }
  }

  private nextBatch(): Batch | undefined {
    const { queue, drops, maxExportBatchSize } = this.options;
    const spans = queue.take(maxExportBatchSize);
    const fromQueue = spans.length;
    const batch: Batch = { spans, fromQueue };
    const episode = drops.take();
    if (episode) {
      batch.drops = episode;
      spans.push(overflowSpan(episode, this.options.resource()));
    }
    if (spans.length < maxExportBatchSize) {
      for (const span of this.options.pendingSpans?.(maxExportBatchSize - spans.length) ?? []) spans.push(span);
    }
    if (spans.length < maxExportBatchSize) batch.journal = this.journalBatch(maxExportBatchSize - spans.length);
    return spans.length > 0 || batch.journal !== undefined ? batch : undefined;
  }

  /**
   * exportWithRetry, again after a pause should it throw (a bug of ours or of an
   * exporter's that escaped its own handling): marked not committed instead, the batch
   * would be passed over by the next batch's commit, which covers every batch before it,
   * and its spans deleted unexported. Until the stop signal aborts.
   */
  private async exportUntilSettled(batch: Batch): Promise<boolean> {
    for (;;) {
      try {
        return await this.exportWithRetry(batch);
      } catch (error) {
        safeDiag.error('otel-blackbox: exporting a batch failed unexpectedly; it is tried again', error);
        if (this.signal.aborted) {
          this.giveUp(batch, error instanceof Error ? error : new Error(String(error)));
          return false;
        }
        await abortableDelay(UNEXPECTED_FAILURE_PAUSE_MILLIS, this.signal);
      }
    }
  }

  /** True once delivered; false only when the stop signal aborted first. */
  private async exportWithRetry(batch: Batch): Promise<boolean> {
    const { exporter, logExporter, exportTimeoutMillis } = this.options;
    const delivery = new BatchDelivery(
      batchParts({
        exporter,
        logExporter,
        // The journal's spans are made anew whenever the exporter needs them, not kept while it works (JournalBatch).
        spans: () => spansOf(batch),
        count: spanCount(batch),
        logs: batch.journal,
        timeoutMillis: exportTimeoutMillis,
        signal: this.signal,
        acceptances: this.acceptances,
      }),
      {
        stalled: () => this.stalled(),
        onRefused: (part, from, to, error) => this.refused(batch, part, from, to, error),
        onTimeout: (error) => this.slowCall(error),
        onLateResult: (outcome, delivered) => this.lateResult(outcome, delivered),
      },
    );
    // Backoff grows only with failures that may be an outage; a refusal with evidence that
    // the exporter is up is tried again soon, as each is evidence towards isolating it.
    for (let outageFailures = 0; ; ) {
      if (delivery.done) {
        this.delivered(batch, delivery);
        return true;
      }
      if (!(await this.slots.acquire(this.signal))) {
        this.giveUp(batch, new Error('the exporter is stopping'));
        return false;
      }
      let outcome: AttemptOutcome;
      try {
        outcome = await delivery.attempt();
      } finally {
        this.slots.release();
        this.notify();
      }
      if (!outcome.timedOut) this.slowSaid = false;
      if (outcome.ok) continue;
      if (outcome.aborted || this.signal.aborted) {
        this.giveUp(batch, outcome.error);
        return false;
      }
      this.failedAttempt(batch, outcome);
      await abortableDelay(retryDelayMillis(outcome.refusedForData ? 0 : outageFailures++), this.signal);
      // Stopped during the backoff: report the failure that was real, not the abandonment.
      if (this.signal.aborted) {
        this.giveUp(batch, outcome.error);
        return false;
      }
    }
  }

  private failedAttempt(batch: Batch, outcome: Extract<AttemptOutcome, { ok: false }>): void {
    // A call that passed its timeout was counted then.
    if (!outcome.timedOut) this.exportFailures += 1;
    if (outcome.givenUp) {
      safeDiag.error(`otel-blackbox: ${outcome.error.message}; its batch is sent again (should the first call still succeed, the exporter receives it twice)`);
    }
    if (batch.failing) return;
    batch.failing = true;
    this.failingBatches += 1;
    if (this.failingBatches > 1) return;
    safeDiag.warn(`otel-blackbox: export failed, retrying with backoff; spans wait in the journal: ${outcome.error.message}`);
  }

  private slowCall(error: Error): void {
    this.exportFailures += 1;
    if (this.slowSaid) return;
    this.slowSaid = true;
    safeDiag.warn(`otel-blackbox: ${error.message}; the batch is not sent again meanwhile`);
  }

  private lateResult(outcome: ExportOutcome, delivered: boolean): void {
    if (delivered) safeDiag.warn('otel-blackbox: an export that was given up called back with SUCCESS after all; what it carried counts as delivered');
    else if (outcome.ok) safeDiag.debug('otel-blackbox: an export that was given up called back with SUCCESS after its batch was sent again');
    this.notify();
  }

  /**
   * Items refused for good: dropped and counted (the drop counter's episode becomes an
   * overflow marker), and said with what they were, so the batches after them go on.
   */
  private refused(batch: Batch, part: BatchPart, from: number, to: number, error: Error): void {
    const { drops } = this.options;
    const why = `refused ${REFUSALS_BEFORE_DROP} times while it accepted others (${error.message})`;
    if (part.name !== 'spans') {
      for (let i = from; i < to; i++) drops.addLogRecord(REFUSED_LOG_RECORDS_REASON);
      safeDiag.error(`otel-blackbox: ${to - from} log records dropped: the logExporter ${why}; counted under '${REFUSED_LOG_RECORDS_REASON}'`);
      return;
    }
    const spans = spansOf(batch);
    const named: string[] = [];
    for (let i = from; i < to; i++) {
      const span = spans[i];
      if (span === undefined) continue;
      const { traceId, spanId } = span.spanContext();
      if (batch.drops !== undefined && i === batch.fromQueue) {
        // Counted again, it would make a marker of its own, refused in turn, for ever.
        batch.markerRefused = true;
        safeDiag.error(`otel-blackbox: the overflow marker of ${droppedInEpisode(batch.drops)} dropped (${batch.drops.reasons.join('; ')}) was ${why}; this message is the only record of it`);
        continue;
      }
      drops.add(REFUSED_SPANS_REASON);
      named.push(`'${span.name}' (trace ${traceId}, span ${spanId})`);
    }
    if (named.length > 0) {
      safeDiag.error(`otel-blackbox: span ${named.join(', ')} dropped: the exporter ${why}; counted under '${REFUSED_SPANS_REASON}', and the spans after it go on`);
    }
  }

  private delivered(batch: Batch, delivery: BatchDelivery): void {
    if (batch.failing) {
      this.failingBatches -= 1;
      if (this.failingBatches === 0 && !this.signal.aborted) safeDiag.info('otel-blackbox: export recovered');
    }
    this.spansExported += spanCount(batch) - delivery.refusedOf('spans') - (batch.markerRefused ? 1 : 0);
    this.logRecordsExported += (batch.journal?.logs.length ?? 0) - delivery.refusedOf('log records');
    this.options.queue.settle(batch.fromQueue);
    // Spans held in memory because the journal could not write their END: their STARTs were kept until now.
    if (batch.fromQueue > 0) {
      const journal = this.options.journal();
      for (let i = 0; i < batch.fromQueue; i++) journal?.endedElsewhere(batch.spans[i]!);
    }
    if (batch.drops && !batch.markerRefused) safeDiag.warn(`otel-blackbox: ${droppedInEpisode(batch.drops)} dropped, recorded as an overflow marker`);
    // Waiting for its turn to commit, it needs its position only.
    batch.spans = [];
    batch.journal?.release();
  }

  /**
   * Only at the stop deadline. Journaled spans stay on disk for recovery; a drop episode
   * goes back to the counter for the owner to record; queued spans may have reached the
   * exporter (its export was still running), so they are said to be possibly lost. Those
   * whose START is in the journal (the journal could not write their END) leave it there,
   * for recovery to write their crash records (JournalWriter.endedElsewhere).
   */
  private giveUp(batch: Batch, error: Error): void {
    if (batch.failing) this.failingBatches -= 1;
    this.options.queue.settle(batch.fromQueue);
    if (batch.drops) this.options.drops.restore(batch.drops);
    const journaled = batch.journal?.spanCount ?? 0;
    safeDiag.error(
      `otel-blackbox: stop deadline passed before a batch of ${spanCount(batch)} spans was committed (${error.message}); ` +
        `${journaled} journaled spans stay on disk for recovery` +
        (batch.fromQueue > 0 ? `; ${batch.fromQueue} spans held in memory may be lost (those whose START the journal holds become crash records at recovery)` : ''),
    );
  }

  /**
   * Resolves after `millis` (never, if undefined), when new work arrives, or when the signal
   * aborts (its listener, set in the constructor, calls wakeUp). The timer is unref'd: the
   * loop's idle tick never keeps the process alive. A plain timer rather than
   * AbortSignal.any() per tick: one dependent signal a second for the life of the process.
   */
  private sleep(millis: number | undefined): Promise<void> {
    if (this.signal.aborted && millis !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = millis === undefined ? undefined : setTimeout(wake, millis);
      timer?.unref();
      this.wakeUp = wake;
    });
  }
}

/** The next idle wait: a short delay doubles up to IDLE_CEILING_MILLIS (see there); a longer one stays. */
function idleAfter(previous: number, delay: number): number {
  if (delay >= IDLE_CEILING_MILLIS) return delay;
  return Math.min(IDLE_CEILING_MILLIS, Math.max(1, previous * 2));
}

function spansOf(batch: Batch): ReadableSpan[] {
  return batch.journal === undefined ? batch.spans : batch.journal.spansInto([...batch.spans]);
}

function spanCount(batch: Batch): number {
  return batch.spans.length + (batch.journal?.spanCount ?? 0);
}
