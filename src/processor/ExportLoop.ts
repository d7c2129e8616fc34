// The asynchronous half of the processor: forms batches from the memory queue and the
// journal, exports up to maxConcurrentExports of them at once, retries a failed batch with
// backoff for as long as the process lives, and marks batches committed strictly in the
// order they were read, so the journal's commit watermark is one increasing position even
// when a later batch commits first.
//
// Stopping has one cancellation path: the `signal` the owner aborts when its stop deadline
// passes. Every export wait, backoff and idle tick races it; once it has aborted no batch
// is formed and export() is never called again, so the owner may shut the exporter down.
import { safeDiag } from '../safeDiag.js';
import { TurnBudget } from '../TurnBudget.js';
import type { Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '../logRecordTypes.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { abortableDelay } from '../export/abortableDelay.js';
import { retryWithBackoff } from '../export/exportWithRetry.js';
import type { Journal, JournalBatch } from '../journal/Journal.js';
import type { DropCounter, DropEpisode } from './DropCounter.js';
import { DEAD_LETTERS_SAID_LOST, Delivery, exportWithLogs, type DeadLetters } from '../export/exportWithLogs.js';
import type { MemorySpanQueue } from './MemorySpanQueue.js';
import { overflowSpan } from './overflowSpan.js';

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
  /** Where spans and log records an exporter other than ours refuses for good go (DeadLetterFile); else they are said lost. */
  deadLetters?: DeadLetters;
}

interface InFlight {
  batch: Batch;
  /** undefined while exporting; true once committed; false when abandoned at the stop deadline. */
  outcome: boolean | undefined;
  /** Behind an exporter other than ours: what of the batch is delivered, and whether it waits for proof of a refusal. */
  delivery?: Delivery;
}

interface Batch {
  /** Spans held in memory (the queue's, an overflow marker, 'started' rows): the journal's come from `journal`. */
  spans: ReadableSpan[];
  fromQueue: number;
  journal?: JournalBatch;
  drops?: DropEpisode;
}

interface FlushWaiter {
  journalEnds: number;
  queueAccepted: number;
  /** The drop episodes begun before the flush (DropCounter.episodesBegun): their markers are exported too. */
  dropEpisodes: number;
  resolve: (done: boolean) => void;
}

/** Batches held (exporting, or exported and waiting for an earlier one to commit) per allowed concurrent export. */
const HELD_BATCHES_PER_EXPORT = 16;

/** The pause before a batch whose export threw unexpectedly is tried again. */
const UNEXPECTED_FAILURE_PAUSE_MILLIS = 5_000;

/** The longest an idle loop sleeps between passes when scheduledDelayMillis is shorter (idleWait). */
const IDLE_CEILING_MILLIS = 50;

export class ExportLoop {
  private readonly options: ExportLoopOptions;
  private readonly signal: AbortSignal;
  /** Ends the current idle wait early: new work arrived. Not a cancellation: see `signal`. */
  private wakeUp: (() => void) | undefined;
  private urgent = false;
  private stopping = false;
  /**
   * At stop(): the ENDs and LOGs written and the spans accepted then, which the stop drains.
   * Draining until nothing was left, a process still serving as it stopped (a span or a
   * log line every millisecond) never left nothing: shutdown ran to flushTimeoutMillis and
   * abandoned a batch at the deadline (a review: 25 s). What comes later stays in the journal.
   */
  private stopTarget: { journalEnds: number; queueAccepted: number; dropEpisodes: number } | undefined;
  private stopped = false;
  private failing = false;
  /**
   * The batches of the failing episode still not committed: it ends when none is left. One
   * batch's commit ended it while another kept failing (a record the database refused), and
   * "export recovered" was said four times in seconds around the same failure (a soak).
   */
  private readonly failingBatches = new Set<InFlight>();
  /** The causes said in the failing episode (causeOf). */
  private readonly causesSaid = new Set<string>();
  /** When the failing episode was last said: said again every FAILING_SAID_AGAIN_MILLIS while it lasts. */
  private failingSaidAt = 0;
  private failingSince = 0;
  private running: Promise<void> | undefined;
  private waiters: FlushWaiter[] = [];
  private inFlight: InFlight[] = [];
  /** Under a delay shorter than an idle loop's sleep (idleWait), every journaled record wakes the loop (recordWritten). */
  private readonly wakesAtEveryRecord: boolean;
  /** Failed export attempts, and spans the exporter has accepted: for stats(). */
  exportFailures = 0;
  spansExported = 0;
  logRecordsExported = 0;
  /**
   * Records the exporter refused for good and kept in a store of its own (RefusedRecords),
   * of this loop's batches and of the processor's crash records at shutdown: not the
   * exporter's count, which sums the processors that share it.
   */
  deadLetteredByExporter = 0;

  constructor(options: ExportLoopOptions) {
    this.options = options;
    this.wakesAtEveryRecord = options.scheduledDelayMillis < IDLE_CEILING_MILLIS;
    this.signal = options.signal;
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
    if (backlog >= this.options.maxExportBatchSize || this.wakesAtEveryRecord) this.notify();
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
      dropEpisodes: this.options.drops.episodesBegun,
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
   * Drains what was written before this call, then stops: resolves once that is exported
   * (and nothing is in flight), or once `signal` has aborted and the batches in flight are
   * abandoned. What is left stays in the journal. The owner bounds it by aborting the
   * signal at its deadline.
   */
  stop(): Promise<void> {
    this.stopping = true;
    this.stopTarget ??= { journalEnds: this.options.journal()?.recordsWritten ?? 0, queueAccepted: this.options.queue.accepted, dropEpisodes: this.options.drops.episodesBegun };
    this.notify();
    return this.running ?? Promise.resolve();
  }

  /** While stopping: the stop drains the journal's ENDs and LOGs up to number `recordsWritten` too. */
  drainAlso(recordsWritten: number): void {
    if (this.stopTarget !== undefined) this.stopTarget.journalEnds = Math.max(this.stopTarget.journalEnds, recordsWritten);
  }

  /** Stopping, and every record the stop drains is in a batch already: none is launched after them. */
  private handedOutWhatStopDrains(): boolean {
    const target = this.stopTarget;
    if (target === undefined) return false;
    const journal = this.options.journal();
    const handedOut = journal === undefined ? 0 : journal.recordsWritten - journal.backlog;
    const { queue, drops } = this.options;
    return handedOut >= target.journalEnds && queue.accepted - queue.length >= target.queueAccepted && (drops.oldestWaiting() ?? Infinity) > target.dropEpisodes;
  }

  private isFlushed(waiter: FlushWaiter): boolean {
    const { journal, queue, drops } = this.options;
    const committed = journal()?.settled ?? 0;
    return committed >= waiter.journalEnds && queue.settled >= waiter.queueAccepted && (drops.oldestUnrecorded() ?? Infinity) > waiter.dropEpisodes;
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
    let idleMillis = 0;
    for (;;) {
      let launched = false;
      const turn = new TurnBudget();
      while (!this.signal.aborted && this.mayLaunch()) {
        // A batch's start runs on the application's thread: its read from the journal, its
        // parse, its exporter's first slice of rows. On the turn's budget, which its
        // exporter's slices share (TurnBudget), its spans parsed a slice at a time: read,
        // parsed and started in one turn, with a second batch's after them, 2048-span
        // batches held the event loop up to 78 ms (bench/batch-drain.mjs).
        if (launched) await turn.pace();
        if (this.signal.aborted || !this.mayLaunch() || this.handedOutWhatStopDrains()) break;
        const batch = this.nextBatch();
        if (!batch) break;
        await this.parseAhead(batch, turn);
        if (this.signal.aborted) {
          // The deadline passed while it was read: given up unsent, not launched to fail.
          this.giveUp(batch, undefined);
          break;
        }
        this.launch(batch);
        launched = true;
      }
      if (this.inFlight.length === 0) {
        this.settleWaiters();
        if (this.stopping || this.signal.aborted) break;
      }
      idleMillis = launched ? this.options.scheduledDelayMillis : idleWait(this.options.scheduledDelayMillis, idleMillis);
      // Once aborted, the batches in flight end at once: wait for them, not for a timer.
      if (!this.urgent) await this.sleep(this.signal.aborted ? undefined : idleMillis);
      this.urgent = false;
    }
    this.stopped = true;
    // Nothing will be committed any more: a flush still waiting is told so now. (Only an
    // abort leaves one waiting: a drained stop settled them all above.)
    for (const waiter of this.waiters) waiter.resolve(false);
    this.waiters = [];
  }

  /**
   * Whether another batch may start: fewer than maxConcurrentExports are exporting, not
   * counting up to as many more that wait for proof that a record of theirs is refused
   * for good (deliverIsolatingRefusals.ts: later batches bring it), and fewer than
   * HELD_BATCHES_PER_EXPORT times that are held, exported ones waiting for an earlier one
   * to commit included (those hold only their counts: JournalBatch.letGo). Counted as
   * exporting, or held, a batch waiting for proof stopped the loop, and the proof never came.
   */
  private mayLaunch(): boolean {
    const max = this.options.maxConcurrentExports;
    if (this.inFlight.length >= max * HELD_BATCHES_PER_EXPORT) return false;
    let exporting = 0;
    let waitingForProof = 0;
    for (const entry of this.inFlight) {
      if (entry.outcome !== undefined) continue;
      if (entry.delivery?.awaitingProof === true) waitingForProof += 1;
      else exporting += 1;
    }
    return exporting < max && waitingForProof <= max;
  }

  private fullBatchWaiting(): boolean {
    const { journal, queue, maxExportBatchSize } = this.options;
    return (journal()?.backlog ?? 0) + queue.length >= maxExportBatchSize;
  }

  private launch(batch: Batch): void {
    const entry: InFlight = { batch, outcome: undefined };
    this.inFlight.push(entry);
    // Nothing rejects unhandled (that would end the application's process).
    void this.exportUntilSettled(entry)
      .then((committed) => {
        entry.outcome = committed;
        this.markCommittedInOrder();
        this.settleWaiters();
        // Straight on for a full batch, a flush or a stop; a partial batch waits for the
        // delay, as the stock processor's does. Going on after every commit exported
        // whatever had ended meanwhile: 146 transactions a minute at 200 spans/s, against
        // the stock processor's 23 (an attack on what a service pays; a database serving
        // many services pays it for each).
        if (this.waiters.length > 0 || this.stopping || this.fullBatchWaiting()) this.notify();
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

  /**
   * The journal's spans of `batch` parsed ahead of its export, on the turn's budget. Never
   * throws (the loop must not end): on a failure the export parses them itself.
   */
  private async parseAhead(batch: Batch, turn: TurnBudget): Promise<void> {
    try {
      await turn.pace();
      await batch.journal?.parseAhead(() => turn.pace());
    } catch (error) {
      safeDiag.debug(`otel-blackbox: parsing a batch ahead of its export failed; its export parses it: ${(error as Error)?.message ?? String(error)}`);
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
  private async exportUntilSettled(entry: InFlight): Promise<boolean> {
    const { batch } = entry;
    for (;;) {
      try {
        return await this.exportWithRetry(entry);
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

  /** True once committed; false only when the stop signal aborted first. */
  private async exportWithRetry(entry: InFlight): Promise<boolean> {
    const { batch } = entry;
    const { exporter, logExporter, exportTimeoutMillis } = this.options;
    // The journal's spans are made anew whenever the exporter needs them, not kept while it works (JournalBatch).
    const spans = () => spansOf(batch);
    const delivery = new Delivery(this.options.deadLetters ?? DEAD_LETTERS_SAID_LOST);
    entry.delivery = delivery;
    const attempt = () => exportWithLogs(exporter, logExporter, spans, spanCount(batch), batch.journal, exportTimeoutMillis, this.signal, delivery);
    const outcome = await retryWithBackoff(attempt, {
      signal: this.signal,
      onRetry: (error) => this.failedAttempt(entry, error),
    });
    this.failingBatches.delete(entry);
    if (outcome.ok) {
      this.committed(batch, delivery);
      // Held until the batches before it commit: its records are not needed any more.
      batch.journal?.letGo();
      return true;
    }
    this.exportFailures += 1;
    this.giveUp(batch, outcome.error);
    return false;
  }

  private failedAttempt(entry: InFlight, error: Error): void {
    this.exportFailures += 1;
    this.failingBatches.add(entry);
    // Said at the first failure of an episode, and again when the cause changes: a database
    // back from a failover without the schema, or with a rotated password, failed for a new
    // reason the operator must act on, which was said only at DEBUG (an operator review).
    // Each cause once per episode, and a few at most: two that take turns (a failover
    // behind a balancer, batches in flight failing differently) said each attempt (a review).
    // And again every few minutes while it lasts: said once, a failure that went on for
    // good was silence after its first line (a soak: 175 s).
    const now = performance.now();
    const cause = causeOf(error);
    const newCause = !this.causesSaid.has(cause) && this.causesSaid.size < MAX_CAUSES_SAID;
    if (this.failing && !newCause && now - this.failingSaidAt < FAILING_SAID_AGAIN_MILLIS) return;
    const first = !this.failing;
    if (first) this.failingSince = now;
    this.failing = true;
    this.failingSaidAt = now;
    this.causesSaid.add(cause);
    const minutes = Math.round((now - this.failingSince) / 60_000);
    safeDiag.warn(
      first
        ? `otel-blackbox: export failed, retrying with backoff; spans wait in the journal: ${error.message}`
        : newCause
          ? `otel-blackbox: export still failing, now for another reason; spans wait in the journal: ${error.message}`
          : `otel-blackbox: export still failing after ${minutes} min; spans wait in the journal: ${error.message}`,
    );
  }

  private committed(batch: Batch, delivery: Delivery): void {
    if (this.failing && this.failingBatches.size === 0 && !this.signal.aborted) {
      this.failing = false;
      this.causesSaid.clear();
      // At the level its failure was said at: an operator who sees the one sees the other.
      safeDiag.warn('otel-blackbox: export recovered');
    }
    // Dead-lettered ones were not exported: they are counted as dead letters (DeadLetterFile,
    // or the exporter's own: PostgresSpanExporter's dead_letters table).
    const refused = delivery.refusedByExporter;
    this.spansExported += endedSpanCount(batch) - endedSpansDeadLettered(batch, delivery.spans.deadLetteredAt) - endedSpansDeadLettered(batch, refused.spanPositions);
    this.logRecordsExported += (batch.journal?.logCount ?? 0) - delivery.logs.deadLettered - refused.logRecords;
    this.deadLetteredByExporter += refused.count;
    this.options.queue.settle(batch.fromQueue);
    // Spans held in memory because the journal could not write their END: their STARTs were kept until now.
    if (batch.fromQueue > 0) {
      const journal = this.options.journal();
      for (let i = 0; i < batch.fromQueue; i++) journal?.endedElsewhere(batch.spans[i]!);
    }
    if (batch.drops) this.options.drops.recorded(batch.drops);
  }

  /**
   * Only at the stop deadline. Journaled spans stay on disk for recovery; a drop episode
   * goes back to the counter for the owner to record; queued spans go back to the queue,
   * whose owner journals them or counts them as dropped at shutdown (MemorySpanQueue.drain):
   * said "may be lost" before, they were counted nowhere (an accounting review). One whose
   * export was still running may have been exported: journaled again, PostgreSQL stores it
   * once, another exporter may get it twice.
   */
  private giveUp(batch: Batch, error: Error | undefined): void {
    this.options.queue.settle(batch.fromQueue);
    this.options.queue.giveBack(batch.spans.slice(0, batch.fromQueue));
    if (batch.drops) this.options.drops.restore(batch.drops);
    const journaled = batch.journal?.spanCount ?? 0;
    // Its log records too: a batch of log records alone was said as "0 spans", "0 journaled spans stay" (a review).
    const logs = batch.journal?.logCount ?? 0;
    const andLogs = logs > 0 ? ` and ${logs} log records` : '';
    const heldInMemory = error === undefined ? 'were not exported' : 'may not have been exported';
    safeDiag.error(
      (error === undefined
        ? `otel-blackbox: stop deadline passed before a batch of ${spanCount(batch)} spans${andLogs} was sent; `
        : `otel-blackbox: stop deadline passed before a batch of ${spanCount(batch)} spans${andLogs} was committed (${error.message}); `) +
        `${journaled} journaled spans${andLogs} stay on disk for recovery` +
        (batch.fromQueue > 0
          ? `; ${batch.fromQueue} spans held in memory ${heldInMemory}: they go into the journal for recovery, or are counted as dropped where it cannot take them`
          : ''),
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

/**
 * The wait after a pass: the configured delay, but a delay shorter than IDLE_CEILING_MILLIS
 * doubles up to it while passes find nothing (0 made an idle loop re-arm a 0 ms timer for
 * good: 140-170 ms of CPU per 3 s of idling). recordWritten() wakes the loop at each ended
 * span meanwhile, so a span does not wait for the longer sleep.
 */
function idleWait(delay: number, previous: number): number {
  if (delay >= IDLE_CEILING_MILLIS) return delay;
  return Math.min(IDLE_CEILING_MILLIS, Math.max(1, delay, previous * 2));
}

function spansOf(batch: Batch): ReadableSpan[] {
  return batch.journal === undefined ? batch.spans : batch.journal.spansInto([...batch.spans]);
}

function spanCount(batch: Batch): number {
  return batch.spans.length + (batch.journal?.spanCount ?? 0);
}

/**
 * The application's ended spans in a batch: not its overflow marker, nor the 'started' rows
 * of spans still open (each is counted once, when it ends). Counted, they made one span
 * exported with durability 'none' read as two in stats() (a review's finding).
 */
function endedSpanCount(batch: Batch): number {
  // ENDs whose record did not parse were never sent: counted lost by the journal's tail.
  return batch.fromQueue + (batch.journal?.spanCount ?? 0) - (batch.journal?.unreadable ?? 0);
}

/**
 * Of the positions refused in spansOf(batch) (and the 'started' rows after them, which
 * exportWithLogs adds), those of the application's ended spans: the queue's at its head,
 * the journal's parsed ones after batch.spans.
 */
function endedSpansDeadLettered(batch: Batch, positions: readonly number[]): number {
  const journalEnd = batch.spans.length + (batch.journal?.spanCount ?? 0) - (batch.journal?.unreadable ?? 0);
  let count = 0;
  for (const position of positions) if (position < batch.fromQueue || (position >= batch.spans.length && position < journalEnd)) count += 1;
  return count;
}

/** Causes said per failing episode at most: past them the episode is said to go on by its first line. */
const MAX_CAUSES_SAID = 4;
/** While an episode lasts, it is said again this often (its latest cause). */
const FAILING_SAID_AGAIN_MILLIS = 5 * 60_000;

/**
 * What a failure says with its counts, sizes and times left out (they change at every
 * attempt): "could not write 4 spans" and "could not write 7 spans" are one cause.
 */
function causeOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return `${typeof code === 'string' ? code : ''} ${error.message.replace(/[0-9a-f]{8,}|\d+/gi, '#')}`;
}
