// A SpanProcessor whose queue is a journal on disk. onStart and onEnd append a record
// (a store into a memory-mapped segment, or write(2)) before they return, so a span that
// started is in the journal even if the process is killed the next instant; an export
// loop sends ended spans from the journal to any SpanExporter and marks them committed.
// Nothing here throws into the application.
import { TraceFlags } from '@opentelemetry/api';
import { holdDiag, safeDiag, sayHeld, sayingHeldIfThrown, stopHoldingDiag } from '../safeDiag.js';
import type { Context } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { DeadLetterFile } from '../export/DeadLetterFile.js';
import { exportTarget } from '../export/exportDestination.js';
import { exportsLogs, storesInPostgres } from '../export/SpansAndLogs.js';
import { limitExportCallsOfOthers } from '../export/exportGate.js';
import { lastUserOf, useExporter } from '../export/exporterUsers.js';
import { PendingSpans } from './PendingSpans.js';
import { Journal } from '../journal/Journal.js';
import { JournalFullNotice } from './JournalFullNotice.js';
import { currentWriterIdentity } from '../journal/writerIdentity.js';
import { journalWritePath } from '../journal/segmentFile/openSegmentFile.js';
import type { WriterIdentity } from '../journal/writerIdentity.js';
import { ENV } from '../options/defaults.js';
import { envSdkDisabled } from '../options/environment.js';
import { recoverJournals } from '../recovery/recoverJournals.js';
import { droppedSpanRecord } from '../recovery/crashRecords.js';
import type { SpanStartRecord } from '../journal/recordTypes.js';
import { DropCounter, droppedInEpisode, type DropEpisode } from './DropCounter.js';
import { UnjournaledStarts } from './UnjournaledStarts.js';
import { ChangedAfterEnd } from './ChangedAfterEnd.js';
import { exportCrashRecordsAtShutdown, HeldEnds, ShutdownCrashRecords } from './crashRecordsAtShutdown.js';
import { ExportLoop } from './ExportLoop.js';
import { MemorySpanQueue } from './MemorySpanQueue.js';
import { resolveProcessorOptions } from './processorOptions.js';
import type { JournalSpanProcessorOptions, ResolvedProcessorOptions } from './processorOptions.js';
import { overflowSpan } from './overflowSpan.js';
import { settleWithin } from './settleWithin.js';
import { reportSelfMetrics } from './selfMetrics.js';
import { SignsOfLife } from './signsOfLife.js';
import { RepeatedCall } from './RepeatedCall.js';

/** How often a broken or missing journal is tried again. */
const JOURNAL_RETRY_MILLIS = 1000;
/** How often the journal directory is scanned for writers that died while we run (siblings sharing it). */
const RECOVERY_SCAN_MILLIS = 60_000;
/**
 * After flushTimeoutMillis, how long forceFlush() and shutdown() still wait for the
 * exporter's own forceFlush()/shutdown(): the documented margin on top of the timeout.
 */
export const EXPORTER_GRACE_MILLIS = 1000;

/** The drop reason of spans and log records that reach the processor after its shutdown. */
const SHUT_DOWN = 'span processor shut down';
/** The reason a log record the processor failed on (a bug of ours, or a value no copy survives) is counted under. */
const LOG_RECORD_ERROR = 'error in the span processor';
/** The drop reason of spans open at shutdown whose START the journal never took, and whose crash record could not be exported. */
const OPEN_AT_SHUTDOWN_UNJOURNALED = 'open at shutdown without a START in the journal; its crash record could not be exported';
/** The drop reasons of spans started while no journal could be opened (UnjournaledStarts). */
const OPEN_AT_SHUTDOWN_NEVER_JOURNALED = 'open at shutdown, started while journalDir could not be used (no START journaled, no crash record)';
const COLLECTED_NEVER_JOURNALED = 'dropped by the application without end(), started while journalDir could not be used';
const HELD_IN_MEMORY_AT_SHUTDOWN = 'held in memory at shutdown, not exported before flushTimeoutMillis, and the journal could not take it';
const EXPORT_UNFINISHED_AT_SHUTDOWN = 'its export had not finished at the shutdown deadline (it may have been exported), and the journal could not take it';

export interface JournalProcessorStats {
  /** Whether the journal can be written right now (false when it cannot be, and after shutdown). */
  journalHealthy: boolean;
  /**
   * Whether the journal is at maxJournalBytes: spans that start now are not journaled (a
   * crash leaves no crash record of them) and are exported from the memory queue, until
   * the exporter's commits free a segment. Said through diag when it begins, and when it
   * has had room for a minute (or at shutdown).
   */
  journalFull: boolean;
  journalBytes: number;
  /**
   * Ended spans (and log records) in the journal not yet committed by the exporter, those
   * in batches being exported or retried included.
   */
  journalBacklog: number;
  /**
   * Spans started and not ended that the journal keeps, each for its crash record: a count
   * that only grows means spans that are never ended (a leak), which, unlike the stock
   * processor's, stay in memory and in the journal until the process exits. While the
   * journal is broken it also counts spans that ended meanwhile, until their copy in memory
   * is exported.
   */
  openSpans: number;
  /** Ended spans held in memory because they could not be journaled. */
  memoryQueueLength: number;
  spansDropped: number;
  /**
   * Ended spans the exporter has accepted and kept (not the overflow marker, nor the 'started'
   * rows of spans still open, nor those refused for good: those count in deadLetters), and
   * export attempts that failed or timed out (each retried): the export loop's, those of
   * the crash records at shutdown, and recovery's.
   */
  spansExported: number;
  exportFailures: number;
  /** Errors caught in onStart/onEnd instead of reaching the application. */
  hotPathErrors: number;
  journalSegments: number;
  /**
   * Bytes the journal has written since it was opened, heads and carried-forward STARTs of
   * long-open spans included: against spans, what each costs the disk.
   */
  journalBytesWritten: number;
  /** 'memory' while the journal cannot be used, 'none' with durability none and after shutdown. */
  journalWritePath: 'mmap' | 'write' | 'memory' | 'none';
  spansDroppedByReason: Readonly<Record<string, number>>;
  /** Log records the exporter has accepted and kept (not those refused for good), and those that could not be journaled (lost), by reason. */
  logRecordsExported: number;
  /** Log records that could not be journaled (the journal full or unavailable): in the overflow marker too. */
  logRecordsDropped: number;
  logRecordsDroppedByReason: Readonly<Record<string, number>>;
  /**
   * Spans and log records of this processor (its export, its shutdown's crash records, its
   * recoveries) refused for good: those the exporter kept in a dead-letter store of its own
   * and said so (PostgresSpanExporter's dead_letters table), and those another exporter
   * refused, written to `<journalDir>/dead-letters.jsonl`. Recovery's count as its batches
   * commit. An exporter shared by processors counts each refusal in one of them.
   */
  deadLetters: number;
  /**
   * Ended spans that recovery of dead processes' journals exported (overflow markers
   * included), counted as each batch commits; those the exporter refused for good count in
   * deadLetters instead. What a recovery sends again after a failure counts again.
   */
  spansRecovered: number;
  /**
   * Crash records recovery exported, as spansRecovered counts ended spans; and those
   * shutdown() exported of this process's spans still open, but for a span that then ended
   * and whose END replaced it (PostgreSQL: the span counts in spansExported).
   */
  crashRecordsWritten: number;
  /** Log records of dead processes' journals that recovery exported, as spansRecovered counts spans. */
  logRecordsRecovered: number;
  /**
   * Spans the application dropped without ending them: held weakly once open a second or
   * more, they were garbage-collected while open (or found so at shutdown). Each gets a
   * crash record whose reason says so, exported as an ended span would be (and counted in
   * spansExported then). More than 0 means an end() missing somewhere in the application.
   */
  spansAbandoned: number;
  /**
   * Whether recovery is under way: a scan of journalDir for dead processes' journals (at
   * start, then once a minute; milliseconds when it finds none) or the recovery of one.
   */
  recoveryRunning: boolean;
}

type State = 'running' | 'stopping' | 'shutdown';

/**
 * What a JournalLogRecordProcessor asks of a span processor of another build of this
 * package (its CommonJS one beside its ESM one: an APM wrapper requires one, the
 * application imports the other): the methods it calls, in this shape. A registered
 * symbol, the same in both builds; a new shape gets a new name.
 */
export const TAKES_LOG_RECORDS: unique symbol = Symbol.for('otel-blackbox: JournalSpanProcessor takes log records, v1');

export class JournalSpanProcessor implements SpanProcessor {
  readonly [TAKES_LOG_RECORDS] = true;
  private readonly options: ResolvedProcessorOptions;
  private readonly queue: MemorySpanQueue;
  private readonly drops = new DropCounter();
  /** The cause of the last recovery failure said (recoveryFailed). */
  private recoveryFailureSaid: string | undefined;
  /** Spans started while there was no journal (journalDir unusable), still open: journaled once one opens. */
  private readonly unjournaledStarts = new UnjournaledStarts();
  private readonly loop: ExportLoop;
  /** Records an exporter other than ours refused for good, kept in journalDir (deliverIsolatingRefusals.ts). */
  private readonly deadLetters: DeadLetterFile;
  /** What recovery of dead processes' journals dead-lettered (RecoveredBatch.deadLettered), as its batches commit. */
  private recoveryDeadLetters = 0;
  private readonly signsOfLife: SignsOfLife;
  private journal: Journal | undefined;
  /** Renewed at each attempt to open a journal: a half-created one must not block the next. */
  private identity: WriterIdentity = currentWriterIdentity();
  private retryTimer: NodeJS.Timeout | undefined;
  private recoveryTimer: NodeJS.Timeout | undefined;
  private recovery: Promise<void> | undefined;
  /** Spans started after shutdown (no START in the journal): counted as dropped when they end. Told apart by object, not by start time (the SDK's clock is not Date.now()). */
  private readonly startedAfterShutdown = new WeakSet<object>();
  /**
   * OTEL_SDK_DISABLED=true: the processor does nothing. A disabled NodeSDK neither starts
   * nor shuts down the processors it was given: this one made its journal (a preallocated
   * segment left behind at every run), recovered dead journals into the database, and kept
   * its timers, under an SDK the application had turned off (a review).
   */
  private readonly disabled: boolean;
  /**
   * Spans held in memory wake the export loop at a full batch, or at half the queue when
   * batches are larger than that: woken only at a batch near the queue's size, the loop came
   * too late for a burst that crossed the queue's end, and it was dropped in part.
   */
  private readonly queueWakesLoopAt: number;
  /** Whether `durability` came from the code (else from OTEL_BLACKBOX_DURABILITY or the default). */
  private readonly durabilityFromCode: boolean;
  /** maxConcurrentExports as the code gave it, for recovery too; else recovery's own default. */
  private readonly recoveryConcurrency: number | undefined;
  /** Stops this processor's own metrics (selfMetrics.ts): at the end of shutdown. */
  private readonly stopSelfMetrics: () => void;
  /** Set until the recovery scheduled at start has begun. */
  private startupRecoveryDue = false;
  private lastResource: Resource | undefined;
  private state: State = 'running';
  private hotPathErrors = 0;
  private readonly pendingSpans: PendingSpans;
  private spansRecovered = 0;
  /** Crash records of dead processes' spans written by recovery. */
  private crashRecordsWritten = 0;
  /** Crash records written at shutdown of this process's spans still open, while they stay their span's record. */
  private readonly shutdownCrashRecords = new ShutdownCrashRecords();
  private logRecordsRecovered = 0;
  private spansAbandoned = 0;
  /** Reported once per episode, not at every retry. */
  private journalUnavailable = false;
  /** Says when the journal is at maxJournalBytes and spans start without crash protection, and when it has had room for a while. */
  private readonly journalFull: JournalFullNotice;
  private writePathSaid = false;
  private shutdownPromise: Promise<void> | undefined;
  /** Aborted when shutdown's deadline passes: the one cancellation path of the export loop and recovery. */
  private readonly stopController = new AbortController();
  /** Says once when a span processor after this one changes spans in its onEnd. */
  private readonly changedAfterEnd = new ChangedAfterEnd();
  /** The span or log record handed over last in this turn: the same again is a second registration (RepeatedCall). */
  private readonly startsSeen = new RepeatedCall();
  private readonly endsSeen = new RepeatedCall();
  private readonly logRecordsSeen = new RepeatedCall();
  private readonly saidRegisteredTwice = new Set<'spans' | 'log records'>();
  /** The ENDs of spans whose crash record shutdown sends to an exporter that cannot replace it (crashRecordsAtShutdown.ts). */
  private heldEnds: HeldEnds | undefined;

  /** Throws only for invalid options; an unusable journal directory degrades to memory. */
  constructor(options: JournalSpanProcessorOptions) {
    // Built inside `new NodeSDK(...)`, before it installs its logger: said after this turn (safeDiag.ts).
    holdDiag();
    this.options = sayingHeldIfThrown(() => resolveProcessorOptions(options));
    this.disabled = envSdkDisabled();
    this.durabilityFromCode = options.durability !== undefined;
    this.recoveryConcurrency = options.maxConcurrentExports === undefined ? undefined : this.options.maxConcurrentExports;
    this.queueWakesLoopAt = Math.min(this.options.maxExportBatchSize, this.options.maxQueueSize / 2);
    this.queue = new MemorySpanQueue(this.options.maxQueueSize);
    this.journalFull = new JournalFullNotice(this.options.maxJournalBytes, this.options.maxQueueSize);
    // 'started' rows only where the exporter stores them by precedence (PostgresSpanExporter).
    this.pendingSpans = new PendingSpans(storesInPostgres(this.options.exporter) ? this.options.pendingSpanMillis : 0);
    // The export loop, recovery and shutdown's crash records call the exporter at the same
    // time: held to maxConcurrentExports calls together, where it is not ours (exportGate.ts).
    limitExportCallsOfOthers(this.options.exporter, this.options.logExporter, this.options.maxConcurrentExports);
    // Shut down with the last processor that uses them (exporterUsers.ts).
    useExporter(this.options.exporter);
    useExporter(this.options.logExporter);
    this.deadLetters = new DeadLetterFile(this.options.journalDir);
    this.loop = new ExportLoop({
      exporter: this.options.exporter,
      logExporter: this.options.logExporter,
      queue: this.queue,
      drops: this.drops,
      journal: () => this.journal,
      pendingSpans: (max) => this.pendingSpans.take(this.journal, max),
      resource: () => this.lastResource ?? resourceFromAttributes({}),
      maxExportBatchSize: this.options.maxExportBatchSize,
      maxConcurrentExports: this.options.maxConcurrentExports,
      scheduledDelayMillis: this.options.scheduledDelayMillis,
      exportTimeoutMillis: this.options.exportTimeoutMillis,
      signal: this.stopController.signal,
      deadLetters: this.deadLetters,
    });
    this.signsOfLife = new SignsOfLife({
      heartbeat: () => {
        this.journal?.appendHeartbeat();
        this.journalFull.tick(this.journal?.atCap ?? false);
      },
      processExit: (record, exiting) => {
        this.journal?.appendProcessExit(record);
        if (exiting) this.journal?.releaseRoomAtExit();
      },
    });
    if (this.disabled) {
      this.state = 'shutdown';
      // A warning: outside NodeSDK (a provider built by hand, which does not read the variable) spans still start, and go nowhere.
      safeDiag.warn(`otel-blackbox: ${ENV.sdkDisabled}=true: JournalSpanProcessor does nothing (no journal, no recovery, no export)`);
    } else if (this.options.durability === 'none') {
      // Said, as the write path is: it was the one state of crash protection nothing
      // announced (an operator review). A warning when the environment chose it: whoever
      // reads the logs may not know a deployment variable turned the journal off.
      const line = 'otel-blackbox: durability \'none\': spans are batched in memory only, without a journal; a crash loses them and leaves no crash records';
      if (this.durabilityFromCode) safeDiag.info(line);
      else safeDiag.warn(`${line} (from ${ENV.durability})`);
    } else {
      this.openJournal();
      this.retryTimer = setInterval(() => this.retryJournal(), JOURNAL_RETRY_MILLIS);
      this.retryTimer.unref();
      this.signsOfLife.start(this.options.heartbeatIntervalMillis);
      if (this.options.recover) {
        // In the background: the application's start never waits for recovery. A shutdown
        // before it began starts it (shutdownOnce).
        this.startupRecoveryDue = true;
        setImmediate(() => this.recoverDeadJournals());
        this.recoveryTimer = setInterval(() => this.recoverDeadJournals(), RECOVERY_SCAN_MILLIS);
        this.recoveryTimer.unref();
      }
    }
    if (!this.disabled) this.loop.start();
    this.stopSelfMetrics = this.disabled ? () => {} : reportSelfMetrics(() => this.stats(), dropsGoingOn(this.drops, this.deadLetters));
    stopHoldingDiag();
  }

  onStart(span: Span, _parentContext: Context): void {
    if (this.disabled) return;
    if (this.startsSeen.repeats(span)) return this.registeredTwice('spans');
    // While shutdown drains, too: the journal is open until it ends, and a span started
    // then, unjournaled, was lost to a kill or left no crash record when still open.
    if (this.state === 'shutdown') return void this.startedAfterShutdown.add(span);
    try {
      // Spans that are recorded but not sampled are never exported: journaling their start
      // would turn them into crash records later.
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      // Before the journal check: with durability 'none' the overflow marker needs it too.
      this.lastResource = span.resource;
      if (this.journal === undefined) {
        // No journal yet (journalDir unusable): its START is journaled once one opens.
        if (this.options.durability !== 'none') this.unjournaledStarts.started(span);
        return;
      }
      if (this.journal.appendStart(span) === 'full') this.journalFull.refused();
    } catch (error) {
      this.hotPathError(error);
    }
  }

  onEnd(span: ReadableSpan): void {
    if (this.disabled) return;
    if (this.endsSeen.repeats(span)) return this.registeredTwice('spans');
    // Counted as dropped at shutdown, with no journal (the overflow marker stands for it):
    // exported or counted again, it was two records of one span (a review).
    if (this.state !== 'running' && this.unjournaledStarts.countedAsDropped(span)) return;
    if (this.state === 'shutdown') return this.spanEndedAfterShutdown(span);
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      // Ended while shutdown sent its crash record to an exporter that cannot replace it.
      if (this.heldEnds?.holds(span) === true) return;
      if (this.unjournaledStarts.size > 0) this.unjournaledStarts.ended(span as Span);
      this.recordEnd(span);
    } catch (error) {
      this.hotPathError(error);
    }
  }

  private recordEnd(span: ReadableSpan): void {
    const journal = this.journal;
    if (journal !== undefined && journal.appendEnd(span) === 'written') {
      // The END of a span whose crash record shutdown sent: drained too, so that its row says it
      // ended (they are no more than the spans open at shutdown, so the drain still ends).
      if (this.state !== 'running' && this.shutdownCrashRecords.ended(span, journal.recordsWritten)) this.loop.drainAlso(journal.recordsWritten);
      this.loop.recordWritten(journal.backlog);
      this.changedAfterEnd.ended(span);
      return;
    }
    if (this.state !== 'running') this.shutdownCrashRecords.ended(span, 0);
    this.keepInMemory(span);
  }

  /**
   * The journal found a span the application dropped without ending it (collected while
   * open): its crash record goes where its END would have. Said once: it means an end()
   * missing in the application, which the stock processor would have let pass unseen.
   */
  private spanAbandoned(start: SpanStartRecord, resource: Resource, writerId: string): void {
    // Shut down, nothing would export it: its START stays in the journal, for recovery.
    if (this.state === 'shutdown') return;
    try {
      this.spansAbandoned += 1;
      if (this.spansAbandoned === 1) {
        safeDiag.warn(
          `otel-blackbox: a span (${JSON.stringify(start.n)}, trace ${start.t}) was dropped by the application without being ended; ` +
            'it is recorded as a crash record saying so, and stats().spansAbandoned counts such spans. Some code path misses span.end().',
        );
      }
      this.recordEnd(droppedSpanRecord(start, resource, writerId, Date.now()));
    } catch (error) {
      this.hotPathError(error);
    }
  }

  /** Said once for spans and once for log records: the second call of each pair is ignored. */
  private registeredTwice(what: 'spans' | 'log records'): void {
    if (this.saidRegisteredTwice.has(what)) return;
    this.saidRegisteredTwice.add(what);
    safeDiag.warn(
      what === 'spans'
        ? 'otel-blackbox: this JournalSpanProcessor is registered twice with one tracer provider (spanProcessors: [p, p], or addSpanProcessor twice): it is handed each span twice, and takes it once. Register it once.'
        : 'otel-blackbox: the log records of this JournalSpanProcessor come through two JournalLogRecordProcessors on one logger provider (or one registered twice): it is handed each record twice, and takes it once. Register one.',
    );
  }

  /**
   * @internal For JournalLogRecordProcessor: journals a log record before returning, like
   * onEnd; it is exported with the next batch. Never throws.
   */
  journalLogRecord(logRecord: ReadableLogRecord): void {
    if (this.disabled) return;
    if (this.logRecordsSeen.repeats(logRecord)) return this.registeredTwice('log records');
    if (this.state === 'shutdown') return this.logRecordAfterShutdown();
    try {
      const journal = this.journal;
      const result = journal?.appendLog(logRecord) ?? 'broken';
      if (result === 'written') {
        this.loop.recordWritten(journal!.backlog);
        return;
      }
      // Counted in the overflow marker's episode, like a dropped span.
      this.drops.addLogRecord(this.options.durability === 'none' ? "durability 'none'" : result === 'full' ? 'journal at maxJournalBytes' : 'journal unavailable');
    } catch (error) {
      this.hotPathError(error);
      // Nothing else holds the record: it is a drop like the others, in the overflow marker.
      // (A body that threw at instanceof took records this way, counted nowhere: review D1.)
      this.drops.addLogRecord(LOG_RECORD_ERROR);
    }
  }

  /**
   * A span that ends after shutdown is not recorded. One that started while the journal was
   * open has its START there, and gets its crash record ("still open when the span
   * processor shut down"); one started after is counted as dropped, and said once.
   */
  private spanEndedAfterShutdown(span: ReadableSpan): void {
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      // Started before, with a journal: its START is there. Without one, lost too.
      if (this.journal !== undefined && !this.startedAfterShutdown.has(span)) return;
      this.drops.countSpan(SHUT_DOWN);
      if (this.drops.byReason[SHUT_DOWN] === 1) {
        safeDiag.warn('otel-blackbox: a span started and ended after JournalSpanProcessor shut down; it is not recorded (nor any after it).');
      }
    } catch (error) {
      this.hotPathError(error);
    }
  }

  /**
   * The LoggerProvider outlived this processor (the application shut tracing down first):
   * the record cannot be journaled, nor exported, nor counted in an overflow marker (none
   * is written any more). Counted in stats, and said once.
   */
  private logRecordAfterShutdown(): void {
    this.drops.countLogRecord(SHUT_DOWN);
    if (this.drops.logRecordsByReason[SHUT_DOWN] === 1) {
      safeDiag.warn(
        'otel-blackbox: a log record was emitted after JournalSpanProcessor shut down; it is not recorded (nor any after it). ' +
          'Shut the LoggerProvider down with the TracerProvider (Promise.all, as NodeSDK does), not after it.',
      );
    }
  }

  /** @internal Why log records could not be exported from this processor, or undefined when they can. */
  logRecordsRefusal(): string | undefined {
    // Set by the environment, it is a deployment's choice: the application is not taken
    // down for it, and log records are dropped, counted and said (noLogJournalFromEnvironment).
    if (this.options.durability === 'none' && this.durabilityFromCode) {
      return (
        "its durability is 'none', so there is no journal to write log records to: use durability 'process' or 'host' " +
        "(it exports log records only from its journal), or the SDK's BatchLogRecordProcessor with a LogRecordExporter of your own (OTLP, say)"
      );
    }
    if (exportsLogs(this.options.exporter) || this.options.logExporter !== undefined) return undefined;
    return 'its exporter cannot store log records and it has no `logExporter`: give JournalSpanProcessor a `logExporter` (any LogRecordExporter, e.g. OTLP), or use PostgresSpanExporter';
  }

  /**
   * @internal For JournalLogRecordProcessor, when OTEL_BLACKBOX_DURABILITY=none leaves no
   * journal: says once that log records are dropped (counted by reason "durability 'none'").
   */
  noLogJournalFromEnvironment(): void {
    if (this.options.durability !== 'none' || this.durabilityFromCode) return;
    safeDiag.warn(
      "otel-blackbox: OTEL_BLACKBOX_DURABILITY=none leaves no journal for JournalLogRecordProcessor's log records: they are dropped and counted. " +
        "JournalSpanProcessor exports log records only from its journal: leave durability at 'process' or 'host' to keep them.",
    );
  }

  private keepInMemory(span: ReadableSpan): void {
    if (this.queue.offer(span)) {
      if (this.queue.length >= this.queueWakesLoopAt) this.loop.notify();
      return;
    }
    this.drops.add(this.dropReason());
    // Dropped and counted: a START the journal kept for it (its END could not be written) is needed no more.
    this.journal?.endedElsewhere(span);
  }

  /**
   * Settles within flushTimeoutMillis for the spans, plus EXPORTER_GRACE_MILLIS for the
   * exporter's own forceFlush(); keeps the process alive while it is awaited.
   */
  async forceFlush(): Promise<void> {
    sayHeld();
    if (this.state === 'shutdown') return;
    const deadline = performance.now() + this.options.flushTimeoutMillis;
    const done = await this.loop.flush(this.options.flushTimeoutMillis);
    if (!done) {
      safeDiag.warn(`otel-blackbox: forceFlush timed out after ${this.options.flushTimeoutMillis} ms; spans stay in the journal`);
    }
    // Called inside then(), as shutdown() calls theirs: one that throws synchronously rejects, is caught.
    const flushing = Promise.all([
      Promise.resolve()
        .then(() => this.options.exporter.forceFlush?.())
        .catch((error: unknown) => safeDiag.error('otel-blackbox: exporter forceFlush failed', error)),
      Promise.resolve()
        .then(() => this.options.logExporter?.forceFlush?.())
        .catch((error: unknown) => safeDiag.error('otel-blackbox: logExporter forceFlush failed', error)),
    ]);
    if ((await settleWithin(flushing, deadline - performance.now() + EXPORTER_GRACE_MILLIS)) === 'timed out') {
      safeDiag.warn('otel-blackbox: the exporter\'s forceFlush did not finish in time; not waiting for it');
    }
  }

  shutdown(): Promise<void> {
    sayHeld();
    this.shutdownPromise ??= this.shutdownOnce();
    return this.shutdownPromise;
  }

  stats(): JournalProcessorStats {
    // Closed at shutdown: nothing is journaled any more, whichever path wrote it.
    const journaling = this.state !== 'shutdown' && this.journal !== undefined && !this.journal.broken;
    return {
      journalHealthy: journaling && this.journal!.healthy,
      journalFull: journaling && this.journal!.atCap,
      journalBytes: this.journal?.bytesOnDisk ?? 0,
      journalBacklog: this.journal?.uncommitted ?? 0,
      openSpans: this.state === 'shutdown' ? 0 : (this.journal?.openSpanCount ?? 0),
      memoryQueueLength: this.queue.length,
      ...dropStats(this.drops, this.deadLetters),
      spansExported: this.loop.spansExported,
      logRecordsExported: this.loop.logRecordsExported,
      exportFailures: this.loop.exportFailures,
      hotPathErrors: this.hotPathErrors,
      journalSegments: this.journal?.segmentsOnDisk ?? 0,
      journalBytesWritten: this.journal?.bytesWritten ?? 0,
      journalWritePath: this.options.durability === 'none' || this.state === 'shutdown' ? 'none' : journaling ? this.journal!.writePath : 'memory',
      deadLetters: this.loop.deadLetteredByExporter + this.deadLetters.written + this.recoveryDeadLetters,
      spansRecovered: this.spansRecovered,
      // Those of shutdown once it is over: a span ending meanwhile takes its crash record's
      // place, and a counter that went down would read as a reset (a review).
      crashRecordsWritten: this.crashRecordsWritten + (this.state === 'shutdown' ? this.shutdownCrashRecords.count : 0),
      logRecordsRecovered: this.logRecordsRecovered,
      spansAbandoned: this.spansAbandoned,
      recoveryRunning: this.recovery !== undefined,
    };
  }

  /**
   * Drains to the exporter until flushTimeoutMillis, then abandons what is in flight (it
   * stays in the journal), then gives the exporter what remains of the timeout plus
   * EXPORTER_GRACE_MILLIS to shut down. The deadline timer is ref'd: while shutdown is
   * pending the process stays alive, so code after `await processor.shutdown()` runs.
   */
  private async shutdownOnce(): Promise<void> {
    this.state = 'stopping';
    clearInterval(this.retryTimer);
    clearInterval(this.recoveryTimer);
    // A recovery under way drains like the export loop until the deadline (then gives its
    // journal back): aborting it at once left the journal of a dead process unrecovered by
    // every process that starts and stops within the time recovery takes (a short job, a
    // crash loop), and lost the rows of a batch already on its way.
    // The recovery scheduled at start, if this stops first (in the same turn of the event
    // loop: a short job, a crash loop), runs now: it found nothing under way and returned,
    // and the dead journals waited for a process that lived longer.
    if (this.startupRecoveryDue) this.startRecovery();
    const deadline = performance.now() + this.options.flushTimeoutMillis;
    const deadlineTimer = setTimeout(() => this.stopController.abort(), this.options.flushTimeoutMillis);
    let drainedInTime = false;
    try {
      // Recovery stops within a chunk once aborted; bounded all the same, so that nothing it
      // waits on (a file system that does not answer) can keep shutdown() from settling.
      const recovery = this.recovery === undefined ? undefined : settleWithin(this.recovery, this.options.flushTimeoutMillis + EXPORTER_GRACE_MILLIS);
      // What was written so far goes first; then the crash records of the spans still open,
      // with the loop still running, so that an END or a log record that comes meanwhile is
      // exported too (stopped first, the loop left them to a recovery that may never come).
      // Spans the application dropped unended and the collector took, not yet reported (that
      // may come late): their crash records go with what was written.
      await this.journal?.reportCollectedSpans();
      await this.crashRecordsOfOpenSpans(await this.loop.flush(Math.max(0, deadline - performance.now())));
      await Promise.all([this.loop.stop(), recovery]);
      drainedInTime = !this.stopController.signal.aborted;
    } finally {
      clearTimeout(deadlineTimer);
      // Drained or not, nothing may call export() from here on: the exporter shuts down next.
      this.stopController.abort();
    }
    this.journalFull.close();
    // Crash records whose END was not committed stand (stats().crashRecordsWritten, the metrics' last report).
    this.shutdownCrashRecords.settle(this.journal?.settled ?? Number.POSITIVE_INFINITY);
    this.state = 'shutdown';
    if (this.journal === undefined) this.countUnjournaledAsDropped();
    this.journalSpansHeldInMemory();
    // What markers recorded and no line has said yet (DropCounter.recorded).
    this.drops.sayRecorded();
    // After the drops are counted: the metrics' last report of this processor includes them.
    this.recordUnsentDrops();
    this.stopSelfMetrics();
    // The loop drains what was written when its stop began (ExportLoop.stop); what a process
    // still serving wrote after stays on disk. Not lost: said, as the deadline's leftovers are.
    const leftInJournal = drainedInTime ? (this.journal?.uncommitted ?? 0) : 0;
    if (leftInJournal > 0) {
      safeDiag.warn(
        `otel-blackbox: ${leftInJournal} spans and log records written during shutdown, after its drain began, stay in the journal for a recovery to export ` +
          `(this application's next start, or otel-blackbox recover)`,
      );
    }
    if (this.journal) {
      // Spans still open now never reach onEnd: say so for the recovery that will find them.
      if (this.journal.openSpanCount > 0) this.journal.appendProcessExit({ ms: Date.now(), shutdown: true }, { syncLater: true });
      // Under 'host', synced on the thread pool while the deadline allows. Past it, what is
      // left stays with the pool (said): synced on the application's thread, a disk whose
      // syncs took 1.5 s stalled its event loop for 99 s at shutdown (bench/slow-disk.mjs).
      // Not for a journal close() removes (everything committed, no span open): it syncs nothing.
      let synced = this.options.durability !== 'host' || this.journal.removedAtClose;
      if (!synced) {
        const journal = this.journal;
        await settleWithin(
          journal.whenSynced().then((done) => void (synced = done)),
          Math.max(0, deadline - performance.now()),
        );
      }
      this.journal.close({ syncHere: synced });
    }
    // Only now: an exit during that wait still writes and syncs its PROCESS_EXIT record, and
    // gives back a mapped segment's preallocated room.
    this.signsOfLife.stop();
    const closing = Promise.all([
      Promise.resolve()
        // Optional here as forceFlush is: the options ask only for export().
        .then(() => (lastUserOf(this.options.exporter) ? this.options.exporter.shutdown?.() : undefined))
        .catch((error: unknown) => safeDiag.error('otel-blackbox: exporter shutdown failed', error)),
      Promise.resolve()
        .then(() => (lastUserOf(this.options.logExporter) ? this.options.logExporter?.shutdown?.() : undefined))
        .catch((error: unknown) => safeDiag.error('otel-blackbox: logExporter shutdown failed', error)),
    ]);
    if ((await settleWithin(closing, deadline - performance.now() + EXPORTER_GRACE_MILLIS)) === 'timed out') {
      safeDiag.warn('otel-blackbox: the exporter\'s shutdown did not finish in time; not waiting for it');
    }
  }

  /**
   * Exports the crash records of the spans still open (crashRecordsAtShutdown.ts), once what
   * was written before has been (`drained`). Not from a broken journal: it could not write
   * down which spans they were, and a recovery of it would write them again. Those whose
   * START the journal never took and that are not sent are counted as dropped either way.
   */
  private async crashRecordsOfOpenSpans(drained: boolean): Promise<void> {
    const journal = this.journal;
    if (journal === undefined) return this.countUnjournaledAsDropped();
    let failing = false;
    // PostgresSpanExporter stores a later END over a crash record; any other gets the crash
    // record alone, once it is sent.
    if (!storesInPostgres(this.options.exporter)) {
      this.heldEnds = new HeldEnds((span) => {
        try {
          this.recordEnd(span);
        } catch (error) {
          this.hotPathError(error);
        }
      });
    }
    const { lost, deadLetteredByExporter } = await exportCrashRecordsAtShutdown({
      journal,
      exporter: this.options.exporter,
      logExporter: this.options.logExporter,
      deadLetters: this.deadLetters,
      maxExportBatchSize: this.options.maxExportBatchSize,
      exportTimeoutMillis: this.options.exportTimeoutMillis,
      signal: this.stopController.signal,
      send: drained && !journal.broken && !this.stopController.signal.aborted,
      heldEnds: this.heldEnds,
      count: this.shutdownCrashRecords,
      onRetry: (error) => {
        this.loop.exportFailures += 1;
        if (!failing) safeDiag.warn(`otel-blackbox: exporting the crash records of the spans still open at shutdown failed, retrying until flushTimeoutMillis: ${error.message}`);
        failing = true;
      },
    });
    this.loop.deadLetteredByExporter += deadLetteredByExporter;
    // Journaled as an overflow marker below (recordUnsentDrops), as other drops at shutdown.
    for (let i = 0; i < lost; i++) this.drops.add(OPEN_AT_SHUTDOWN_UNJOURNALED);
  }

  /**
   * Ended spans still held in memory when the exporter could not take them before the
   * deadline (the journal could not write their END, or durability 'none'): their ENDs go
   * into the journal now, past its cap as the overflow marker does, by at most an eighth of
   * the cap (a segment's worth at most), for recovery to export. Where it cannot take them
   * they are counted as dropped, in the overflow marker; but not one whose START the journal
   * holds (a broken journal): its crash record stands for it at recovery. Before, they were
   * counted nowhere and said at most as "may be lost" (an accounting review: 100 of 420
   * spans in no count, no row and no marker).
   */
  private journalSpansHeldInMemory(): void {
    const journal = this.journal;
    const pastCapUntil = (journal?.bytesWritten ?? 0) + Math.min(this.options.maxSegmentBytes, this.options.maxJournalBytes / 8);
    const { givenBack, queued } = this.queue.drain();
    const keep = (span: ReadableSpan, reason: string): void => {
      let result = 'no journal';
      try {
        if (journal !== undefined) result = journal.bytesWritten < pastCapUntil ? journal.appendEnd(span, { pastCap: true }) : journal.appendEnd(span);
      } catch (error) {
        this.hotPathError(error);
      }
      // Written, the journal let go of its START itself (JournalWriter.appendEnd).
      if (result === 'written' || (result === 'broken' && journal!.holdsStartOf(span))) return;
      this.drops.add(this.options.durability === 'none' && reason === HELD_IN_MEMORY_AT_SHUTDOWN ? "durability 'none'" : reason);
    };
    for (const span of givenBack) keep(span, EXPORT_UNFINISHED_AT_SHUTDOWN);
    for (const span of queued) keep(span, HELD_IN_MEMORY_AT_SHUTDOWN);
  }

  /**
   * A drop episode the exporter could not take before the deadline (the database is down)
   * must survive the process: journal its marker, which recovery exports later; only when
   * the journal cannot take it either is the count left to diag alone.
   */
  private recordUnsentDrops(): void {
    for (let episode = this.drops.take(); episode !== undefined; episode = this.drops.take()) this.recordUnsentEpisode(episode);
  }

  private recordUnsentEpisode(episode: DropEpisode): void {
    const marker = overflowSpan(episode, this.lastResource ?? resourceFromAttributes({}));
    let result: string = 'no journal';
    try {
      if (this.journal) result = this.journal.appendEnd(marker, { pastCap: true });
    } catch (error) {
      result = (error as Error).message;
    }
    if (result === 'written') {
      safeDiag.warn(`otel-blackbox: ${droppedInEpisode(episode)} dropped, recorded as an overflow marker in the journal; recovery will export it`);
      return;
    }
    safeDiag.error(
      `otel-blackbox: ${droppedInEpisode(episode)} were dropped (${episode.reasons.join('; ')}) and the overflow marker could be ` +
        `neither exported nor journaled (${result}); this message is the only record of them`,
    );
  }

  private openJournal(): void {
    try {
      const writerId = this.identity.writerId;
      this.journal = new Journal({
        journalDir: this.options.journalDir,
        identity: this.identity,
        durability: this.options.durability === 'host' ? 'host' : 'process',
        maxSegmentBytes: this.options.maxSegmentBytes,
        maxJournalBytes: this.options.maxJournalBytes,
        groupCommitMillis: this.options.groupCommitMillis,
        heartbeatIntervalMs: this.options.heartbeatIntervalMillis,
        ...exportTarget(this.options.exporter),
        // Sizes the window of just-written ENDs the export side takes from memory (RecentEnds.ts).
        exportBatchSize: this.options.maxExportBatchSize,
        onAbandoned: (start, resource) => this.spanAbandoned(start, resource, writerId),
      });
      this.sayWritePathOnce(this.journal);
      if (this.journalUnavailable) safeDiag.warn(`otel-blackbox: journalDir ${JSON.stringify(this.options.journalDir)} usable again`);
      this.journalUnavailable = false;
      this.journalStartsOfOpenSpans(this.journal);
    } catch (error) {
      this.journal = undefined;
      this.identity = currentWriterIdentity();
      if (this.journalUnavailable) return;
      this.journalUnavailable = true;
      safeDiag.error(
        `otel-blackbox: cannot use journalDir ${JSON.stringify(this.options.journalDir)} ` +
          `(${(error as Error).message}); spans are exported from memory without crash protection until it can be used`,
      );
    }
  }

  /** The spans started while there was no journal and still open: their STARTs go into the one just opened. */
  private journalStartsOfOpenSpans(journal: Journal): void {
    for (const span of this.unjournaledStarts.takeOpen()) {
      try {
        if (journal.appendStart(span) === 'full') this.journalFull.refused();
      } catch (error) {
        this.hotPathError(error);
      }
    }
    this.countCollectedUnjournaled();
  }

  /**
   * At shutdown with no journal: the spans started without one and still open can have no
   * crash record made of them here, so each is counted, in the overflow marker the drain
   * exports (those started during the drain, in the one journaled or said after it).
   */
  private countUnjournaledAsDropped(): void {
    for (let i = this.unjournaledStarts.countOpenAsDropped(); i > 0; i--) this.drops.add(OPEN_AT_SHUTDOWN_NEVER_JOURNALED);
    this.countCollectedUnjournaled();
  }

  /** Spans started with no journal that the application dropped unended: never ended, never journaled, counted as dropped. */
  private countCollectedUnjournaled(): void {
    for (let i = this.unjournaledStarts.takeCollected(); i > 0; i--) this.drops.add(COLLECTED_NEVER_JOURNALED);
  }

  private sayWritePathOnce(journal: Journal): void {
    if (this.writePathSaid) return;
    this.writePathSaid = true;
    const { reason, unexpected } = journalWritePath();
    if (journal.writePath === 'mmap') return safeDiag.info(`otel-blackbox: journal ${journal.directory} writes into memory-mapped segments`);
    const line = `otel-blackbox: journal ${journal.directory} writes with write(2)${reason ? ` (${reason})` : ''}`;
    // Where the addon should have loaded, write(2) costs every span about three times what
    // the mapped path does: said where a default diag level shows it.
    if (unexpected) safeDiag.warn(`${line}, which costs each span about three times what memory-mapped segments do`);
    else safeDiag.info(line);
  }

  private recoverDeadJournals(): void {
    if (this.recovery || this.state !== 'running') return;
    this.startRecovery();
  }

  private startRecovery(): void {
    this.startupRecoveryDue = false;
    this.recovery = recoverJournals({
      journalDir: this.options.journalDir,
      exporter: this.options.exporter,
      logExporter: this.options.logExporter,
      claimer: this.identity,
      staleAfterMillis: this.options.staleAfterMillis,
      maxExportBatchSize: this.options.maxExportBatchSize,
      // Only as given: by default recovery takes its own (up to 4 batches behind PostgreSQL).
      maxConcurrentExports: this.recoveryConcurrency,
      exportTimeoutMillis: this.options.exportTimeoutMillis,
      // While the database is down, keep the claim and retry the batch in hand with backoff
      // (like the export loop) rather than give the journal back and read it again at the
      // next scan; shutdown's deadline aborts the wait and gives it back.
      maxAttempts: Number.POSITIVE_INFINITY,
      signal: this.stopController.signal,
      // Counted with the export loop's: an application that ends no span while it recovers
      // with the database down showed 0 failures, while every batch failed (an accounting review).
      onAttemptFailed: () => {
        this.loop.exportFailures += 1;
      },
      onBatch: (committed) => {
        this.spansRecovered += committed.spansEnded;
        this.crashRecordsWritten += committed.spansCrashed;
        this.logRecordsRecovered += committed.logRecords;
        // As each batch commits, with the rest: added at the end, a long recovery's refusals
        // were missing for minutes, and for good when shutdown gave it up (a review).
        this.recoveryDeadLetters += committed.deadLettered;
      },
    })
      .then((report) => {
        this.recoveryFailureSaid = undefined;
        if (report.journals > 0) {
          safeDiag.info(
            `otel-blackbox: recovered ${report.journals} journals of dead processes: ` +
              `${report.spansEnded} ended spans, ${report.spansCrashed} crash records`,
          );
        }
      })
      .catch((error: unknown) => this.recoveryFailed(error))
      .finally(() => {
        this.recovery = undefined;
      });
  }

  /**
   * Said once per cause, without its stack: a journal directory the scan cannot list
   * (another user's, a file in its place) failed the same way once a minute, each time
   * with a stack (a review). Said again when the cause changes or after a scan succeeded.
   */
  private recoveryFailed(error: unknown): void {
    const cause = (error as Error)?.message ?? String(error);
    // The stack, for a failure of ours rather than of the directory, where debug is on.
    safeDiag.debug('otel-blackbox: journal recovery failed', error);
    if (cause === this.recoveryFailureSaid) return;
    this.recoveryFailureSaid = cause;
    safeDiag.error(`otel-blackbox: journal recovery failed: ${cause}; said again only if the cause changes`);
  }

  private retryJournal(): void {
    try {
      if (this.journal === undefined) this.openJournal();
      else this.journal.maintain();
    } catch (error) {
      this.hotPathError(error);
    }
  }

  private dropReason(): string {
    if (this.options.durability === 'none') return 'memory queue full (durability none)';
    if (this.journal === undefined || this.journal.broken) return 'journal unavailable and memory queue full';
    return 'journal at maxJournalBytes and memory queue full';
  }

  private hotPathError(error: unknown): void {
    this.hotPathErrors += 1;
    if (this.hotPathErrors === 1) safeDiag.error('otel-blackbox: error caught in the span processor (further ones are counted)', error);
  }
}

/** The drop reason of records an exporter refused for good that the dead-letter file could not take (DeadLetterFile). */
const REFUSED_NOT_KEPT = 'refused by the exporter for good, and the dead-letter file could not keep it';

type DropStats = Pick<JournalProcessorStats, 'spansDropped' | 'spansDroppedByReason' | 'logRecordsDropped' | 'logRecordsDroppedByReason'>;

/** What was dropped: by the processor (DropCounter), and refused records the dead-letter file could not keep. */
function dropStats(drops: DropCounter, deadLetters: DeadLetterFile): DropStats {
  return {
    spansDropped: drops.total + deadLetters.lostSpans,
    spansDroppedByReason: withLost(drops.byReason, deadLetters.lostSpans),
    logRecordsDropped: drops.logRecordsTotal + deadLetters.lostLogs,
    logRecordsDroppedByReason: withLost(drops.logRecordsByReason, deadLetters.lostLogs),
  };
}

/**
 * A shut-down processor's stats as its metrics report them: `gone` with the drops as they
 * go on (what starts or is emitted after shutdown is dropped, and counted). Made here, not
 * in the constructor, so the callback keeps the counters alone and not the processor.
 */
function dropsGoingOn(drops: DropCounter, deadLetters: DeadLetterFile): (gone: JournalProcessorStats) => JournalProcessorStats {
  return (gone) => ({ ...gone, ...dropStats(drops, deadLetters) });
}

function withLost(byReason: Readonly<Record<string, number>>, lost: number): Record<string, number> {
  return lost === 0 ? { ...byReason } : { ...byReason, [REFUSED_NOT_KEPT]: lost };
}

