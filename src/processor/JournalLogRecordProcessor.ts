// A LogRecordProcessor (@opentelemetry/sdk-logs 0.2xx and 3.x: onEmit, forceFlush,
// shutdown) that writes each log record to a JournalSpanProcessor's journal before onEmit
// returns, at that processor's durability level: a logger.emit() — or a pino line through
// @opentelemetry/instrumentation-pino — right before a SIGKILL is on disk, and recovery
// stores it with the crash record of its span. Exported by the span processor's export
// loop, in the same transaction as its span's row (PostgresSpanExporter) or through its
// `logExporter`.
import type { Context } from '@opentelemetry/api';
import type { ReadableLogRecord } from '../logRecordTypes.js';
import { InvalidOptionError, knownOptionsOnly } from '../options/validate.js';
import { JournalSpanProcessor, TAKES_LOG_RECORDS } from './JournalSpanProcessor.js';

export interface JournalLogRecordProcessorOptions {
  /** The JournalSpanProcessor whose journal, export loop and exporter the log records share. Required. */
  spanProcessor: JournalSpanProcessor;
}

// Shaped as sdk-logs' LogRecordProcessor, not declared one: our declarations do not import
// sdk-logs (logRecordTypes.ts). The published-package test hands it to a LoggerProvider.
export class JournalLogRecordProcessor {
  readonly #spanProcessor: JournalSpanProcessor;
  #shutdown = false;

  /**
   * Throws when the span processor cannot export log records (no Postgres exporter and no
   * `logExporter`, or durability 'none' in code; from the environment, records are dropped,
   * counted and said).
   */
  constructor(options: JournalLogRecordProcessorOptions) {
    // Another copy's processor too (its CommonJS or ESM build): its fields are not options.
    if ((options as unknown) instanceof JournalSpanProcessor || (options as { constructor?: { name?: unknown } } | null)?.constructor?.name === JournalSpanProcessor.name) {
      throw new InvalidOptionError('options', '{ spanProcessor }, an object holding the JournalSpanProcessor', options);
    }
    // Names first: a mistyped spanProcessor gets "did you mean", not "got undefined".
    if (typeof options === 'object' && options !== null) {
      knownOptionsOnly('JournalLogRecordProcessor', options, ['spanProcessor'] satisfies (keyof JournalLogRecordProcessorOptions)[]);
    }
    const spanProcessor = (options as Partial<JournalLogRecordProcessorOptions> | undefined)?.spanProcessor;
    if (!takesLogRecords(spanProcessor)) {
      // One made by another installed version of this package is another class: "expected a
      // JournalSpanProcessor, got a JournalSpanProcessor" would say nothing.
      const sameName = (spanProcessor as { constructor?: { name?: unknown } } | null | undefined)?.constructor?.name === JournalSpanProcessor.name;
      const expected = sameName
        ? 'a JournalSpanProcessor of this version of otel-blackbox (one from another installed version is another class: install one version)'
        : 'the JournalSpanProcessor whose journal log records share';
      throw new InvalidOptionError('spanProcessor', expected, spanProcessor);
    }
    const refusal = spanProcessor.logRecordsRefusal();
    if (refusal !== undefined) {
      throw new Error(`JournalLogRecordProcessor: the span processor cannot export log records: ${refusal}.`);
    }
    this.#spanProcessor = spanProcessor;
    spanProcessor.noLogJournalFromEnvironment();
  }

  /**
   * Also after shutdown(): sdk-logs' Logger.emit does not look at it, and loggers taken
   * before (pino's instrumentation) go on emitting while NodeSDK shuts down. Dropped here,
   * they were lost unsaid while the journal was still open; the span processor journals
   * them while it runs, and counts and says them once it has shut down.
   */
  onEmit(logRecord: ReadableLogRecord, _context?: Context): void {
    this.#spanProcessor.journalLogRecord(logRecord);
  }

  /** Resolves once every log record emitted so far is exported (or the span processor's flush timeout passed). */
  forceFlush(): Promise<void> {
    return this.#spanProcessor.forceFlush();
  }

  /**
   * Flushes what was emitted so far. The journal and the export loop belong to the span
   * processor, which the SDK shuts down on its own: records emitted after this go to it.
   */
  async shutdown(): Promise<void> {
    if (this.#shutdown) return;
    this.#shutdown = true;
    await this.#spanProcessor.forceFlush();
  }
}

/** Ours, or one of the other build (CommonJS beside ESM): another class, with the same methods (TAKES_LOG_RECORDS). */
function takesLogRecords(spanProcessor: unknown): spanProcessor is JournalSpanProcessor {
  return spanProcessor instanceof JournalSpanProcessor || (spanProcessor as { [TAKES_LOG_RECORDS]?: unknown } | null | undefined)?.[TAKES_LOG_RECORDS] === true;
}
