// The asynchronous half of the processor: forms batches from the memory queue and the
// journal, exports up to maxConcurrentExports of them at once, retries a failed batch with
// backoff for as long as the process lives, and marks batches committed strictly in the
// order they were read, so the journal's commit watermark is one increasing position even
// when a later batch commits first.
import { diag } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { JournalBatch, JournalTail } from '../journal/JournalTail.js';
import { retryDelayMillis } from '../export/backoff.js';
import type { DropCounter, DropEpisode } from './DropCounter.js';
import { exportWithLogs } from '../export/exportWithLogs.js';
import type { MemorySpanQueue } from './MemorySpanQueue.js';
import { overflowSpan } from './overflowSpan.js';

export interface ExportLoopOptions {
  exporter: SpanExporter;
  /** Where the journal's log records go when `exporter` cannot take them with spans. */
  logExporter?: LogRecordExporter;
  queue: MemorySpanQueue;
  drops: DropCounter;
  /** The journal's tail, when there is a journal (there may be none yet, or ever). */
  tail: () => JournalTail | undefined;
  /** SPAN_END and LOG records the journal has written: what a flush must see committed. */
  journalEndsWritten: () => number;
  /** 'started' rows for spans open longer than pendingSpanMillis, not yet sent: exported with the next batch. */
  pendingSpans?: (max: number) => ReadableSpan[];
  /** The resource the overflow marker carries: the application's, once a span was seen. */
  resource: () => Resource;
  maxExportBatchSize: number;
  maxConcurrentExports: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

interface InFlight {
  batch: Batch;
  /** undefined while exporting; true once committed; false when given up at shutdown. */
  outcome: boolean | undefined;
}

interface Batch {
  spans: ReadableSpan[];
  fromQueue: number;
  journal?: JournalBatch;
  drops?: DropEpisode;
}

interface FlushWaiter {
  journalEnds: number;
  queueAccepted: number;
  resolve: (done: boolean) => void;
}

export class ExportLoop {
  private readonly options: ExportLoopOptions;
  private wakeUp: (() => void) | undefined;
  private interruptBackoff: (() => void) | undefined;
  private urgent = false;
  private stopping = false;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private failing = false;
  private running: Promise<void> | undefined;
  private waiters: FlushWaiter[] = [];
  private inFlight: InFlight[] = [];
  private gaveUp = false;
  /** Failed export attempts, and spans the exporter has accepted: for stats(). */
  exportFailures = 0;
  spansExported = 0;
  logRecordsExported = 0;

  constructor(options: ExportLoopOptions) {
    this.options = options;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** A full batch is waiting (or a flush was asked for): export now rather than at the next tick. */
  notify(): void {
    this.urgent = true;
    this.wakeUp?.();
  }

  /** Resolves true once everything ended before this call is committed, false at the timeout. */
  flush(timeoutMillis: number): Promise<boolean> {
    const waiter: FlushWaiter = {
      journalEnds: this.options.journalEndsWritten(),
      queueAccepted: this.options.queue.accepted,
      resolve: () => {},
    };
    if (this.isFlushed(waiter)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMillis);
      timer.unref();
      waiter.resolve = (done) => {
        clearTimeout(timer);
        resolve(done);
      };
      this.waiters.push(waiter);
      this.notify();
    });
  }

  /** Drains what it can before the deadline, then stops. What is left stays in the journal. */
  async stop(timeoutMillis: number): Promise<void> {
    this.stopping = true;
    this.stopDeadline = Date.now() + timeoutMillis;
    this.notify();
    this.interruptBackoff?.();
    // An export whose callback never comes is bounded by exportTimeoutMillis; the stop is
    // bounded by its own deadline as well.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMillis + 100);
      timer.unref();
    });
    await Promise.race([this.running, deadline]);
    clearTimeout(timer);
  }

  private isFlushed(waiter: FlushWaiter): boolean {
    const tail = this.options.tail();
    const committed = (tail?.endsSettled ?? 0) + (tail?.logsCommitted ?? 0);
    return committed >= waiter.journalEnds && this.options.queue.settled >= waiter.queueAccepted;
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: FlushWaiter[] = [];
    for (const waiter of this.waiters) {
      if (this.isFlushed(waiter)) waiter.resolve(true);
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private async run(): Promise<void> {
    for (;;) {
      while (!this.gaveUp && this.inFlight.length < this.options.maxConcurrentExports) {
        const batch = this.nextBatch();
        if (!batch) break;
        this.launch(batch);
      }
      if (this.inFlight.length === 0) {
        this.settleWaiters();
        if (this.stopping) return;
      }
      if (!this.urgent) await this.sleep(this.options.scheduledDelayMillis);
      this.urgent = false;
    }
  }

  private launch(batch: Batch): void {
    const entry: InFlight = { batch, outcome: undefined };
    this.inFlight.push(entry);
    void this.exportWithRetry(batch).then((committed) => {
      entry.outcome = committed;
      if (!committed) this.gaveUp = true;
      this.markCommittedInOrder();
      this.settleWaiters();
      this.notify();
    });
  }

  /** Journal batches are marked committed oldest first, only past a contiguous run of finished ones. */
  private markCommittedInOrder(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].outcome !== undefined) {
      const { batch, outcome } = this.inFlight.shift()!;
      if (outcome && !this.gaveUp && batch.journal) this.options.tail()?.committed(batch.journal);
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
    if (spans.length < maxExportBatchSize) {
      const journal = this.options.tail()?.nextBatch(maxExportBatchSize - spans.length);
      if (journal) {
        batch.journal = journal;
        for (const span of journal.spans) spans.push(span);
      }
    }
    return spans.length > 0 || (batch.journal?.logs.length ?? 0) > 0 ? batch : undefined;
  }

  /** True once committed; false only when a stop deadline passed first. */
  private async exportWithRetry(batch: Batch): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const outcome = await exportWithLogs(this.options.exporter, this.options.logExporter, batch.spans, batch.journal, this.options.exportTimeoutMillis);
      if (outcome.ok) {
        this.committed(batch);
        return true;
      }
      this.exportFailures += 1;
      if (!this.failing) {
        this.failing = true;
        diag.warn(`otel-blackbox: export failed, retrying with backoff; spans wait in the journal: ${outcome.error.message}`);
      }
      const remaining = this.stopDeadline - Date.now();
      if (this.stopping && remaining <= 0) {
        this.giveUp(batch, outcome.error);
        return false;
      }
      await this.backoff(Math.min(retryDelayMillis(attempt), remaining));
    }
  }

  private committed(batch: Batch): void {
    if (this.failing) {
      this.failing = false;
      diag.info('otel-blackbox: export recovered');
    }
    this.spansExported += batch.spans.length;
    this.logRecordsExported += batch.journal?.logs.length ?? 0;
    this.options.queue.settle(batch.fromQueue);
    if (batch.drops) diag.warn(`otel-blackbox: ${batch.drops.count} dropped spans recorded as an overflow marker`);
  }

  /** Only at shutdown: journaled spans stay on disk for recovery; queued ones are lost and said so. */
  private giveUp(batch: Batch, error: Error): void {
    this.options.queue.settle(batch.fromQueue);
    if (batch.drops) this.options.drops.restore(batch.drops);
    const inMemory = batch.fromQueue + (batch.drops?.count ?? 0);
    diag.error(
      `otel-blackbox: shutdown deadline passed while the exporter failed (${error.message}); ` +
        `${batch.journal?.spans.length ?? 0} journaled spans stay on disk for recovery` +
        (inMemory > 0 ? `, ${inMemory} spans held only in memory are lost` : ''),
    );
  }

  private sleep(millis: number): Promise<void> {
    return interruptibleDelay(millis, (wake) => (this.wakeUp = wake));
  }

  private backoff(millis: number): Promise<void> {
    return interruptibleDelay(millis, (wake) => (this.interruptBackoff = wake));
  }
}

/**
 * Resolves after `millis`, or as soon as the function handed to `expose` is called. The
 * timer is unref'd: waiting to export never keeps the process alive.
 */
function interruptibleDelay(millis: number, expose: (wake: (() => void) | undefined) => void): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      expose(undefined);
      resolve();
    };
    const timer = setTimeout(wake, millis);
    timer.unref();
    expose(wake);
  });
}
