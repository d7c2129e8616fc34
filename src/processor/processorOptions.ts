// Options of JournalSpanProcessor, resolved once: code, then environment, then default.
import { resolve } from 'node:path';
import { safeDiag } from '../safeDiag.js';
import type { LogRecordExporter } from '../logRecordTypes.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { storesInPostgres } from '../export/SpansAndLogs.js';
import { DURABILITY_LEVELS, ENV, PROCESSOR_DEFAULTS as D, RECOVERY_DEFAULTS } from '../options/defaults.js';
import type { DurabilityLevel } from '../options/defaults.js';
import { envBytesAtLeast, envDurability, envJournalDir, envMillis, envPositiveInteger } from '../options/environment.js';
import { InvalidOptionError, bytesAtLeast, exporterOption, optionalLogExporter, knownOptionsOnly, millis, directoryPath, oneOf, positiveInteger, booleanOption } from '../options/validate.js';

export type { DurabilityLevel };

export interface JournalSpanProcessorOptions {
  /** Where spans go once committed to the journal. Any SpanExporter works. Required. */
  exporter: SpanExporter;
  /** Directory of the journal. Default `OTEL_BLACKBOX_JOURNAL_DIR`, else `'.otel-journal'`. */
  journalDir?: string | undefined;
  /**
   * `'process'` (default): each record reaches the kernel before the call that made it
   * returns (a store into a memory-mapped segment, or one write(2)); survives any death of
   * the process, not power loss. `'host'`: also synced to disk by group commit within
   * `groupCommitMillis`.
   * `'none'`: no journal, in-memory batching only. Env `OTEL_BLACKBOX_DURABILITY`.
   */
  durability?: DurabilityLevel | undefined;
  /**
   * Spans per export() call. Default `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, else 512 (behind
   * PostgresSpanExporter too: see PROCESSOR_DEFAULTS for why not larger).
   */
  maxExportBatchSize?: number | undefined;
  /**
   * Batches exported at the same time. More than one lets PostgreSQL commit one batch while
   * the next is read from the journal; the commit watermark still advances in order.
   * Default 2 behind PostgresSpanExporter; 1 behind any other exporter, whose export() the
   * SpanExporter contract says is never called concurrently (set more for one that can take it).
   */
  maxConcurrentExports?: number | undefined;
  /** Longest wait before a partial batch is exported. Default `OTEL_BSP_SCHEDULE_DELAY`, else 1000 ms. */
  scheduledDelayMillis?: number | undefined;
  /**
   * How long one export() may take before it counts as failed and is retried; before the
   * batch is sent again, the late call's result is awaited as long again (a late SUCCESS
   * commits it). Default `OTEL_BSP_EXPORT_TIMEOUT`, else 30000 ms.
   */
  exportTimeoutMillis?: number | undefined;
  /** Spans held in memory when they cannot be journaled (durability 'none', broken or full journal). Default `OTEL_BSP_MAX_QUEUE_SIZE`, else 2048. */
  maxQueueSize?: number | undefined;
  /**
   * Cap on the journal's bytes on disk, at least 8192. Past it new spans are not journaled
   * (no crash protection, said through diag) and are exported from the memory queue. Default
   * `OTEL_BLACKBOX_MAX_JOURNAL_BYTES`, else 1 GiB.
   */
  maxJournalBytes?: number | undefined;
  /** A segment is closed and a new one started past this size, at least 4096. Default 8 MiB, at most an eighth of maxJournalBytes. */
  maxSegmentBytes?: number | undefined;
  /** Durability 'host': the longest a record waits for its fdatasync. Default 10 ms. */
  groupCommitMillis?: number | undefined;
  /** Interval of the heartbeat records recovery uses as the last sign of life. Default 2000 ms. */
  heartbeatIntervalMillis?: number | undefined;
  /** How long forceFlush() and shutdown() wait for the database. Default 25000 ms. */
  flushTimeoutMillis?: number | undefined;
  /** Recover journals of dead processes from `journalDir` in the background at start. Default true. */
  recover?: boolean | undefined;
  /**
   * Where a journal's writer can be judged by its silence alone (another host on a shared
   * volume, another container without the lock, a host without /proc), silence this long
   * means dead, for this processor's recovery. Default 300000 ms, as recoverJournals.
   */
  staleAfterMillis?: number | undefined;
  /**
   * A span open longer than this gets a `'started'` row (what it had at start) while its
   * process lives, so long jobs are visible as they run; the same row becomes `'ended'` or
   * `'crashed'` later. Only with PostgresSpanExporter (other exporters would receive the span
   * twice). 0 turns it off. Default 10000 ms.
   */
  pendingSpanMillis?: number | undefined;
  /**
   * Where log records from a `JournalLogRecordProcessor` go when `exporter` cannot take them
   * with its spans (any exporter but PostgresSpanExporter, e.g. OTLP): any LogRecordExporter.
   * Default none: PostgresSpanExporter needs none.
   */
  logExporter?: LogRecordExporter | undefined;
}

export interface ResolvedProcessorOptions extends Required<Omit<JournalSpanProcessorOptions, 'exporter' | 'logExporter'>> {
  exporter: SpanExporter;
  logExporter: LogRecordExporter | undefined;
}

/** Every option's name. `satisfies` makes a name added to the interface and not here a compile error. */
const OPTION_NAMES = Object.keys({
  exporter: 1, journalDir: 1, durability: 1, maxExportBatchSize: 1, maxConcurrentExports: 1, scheduledDelayMillis: 1, exportTimeoutMillis: 1, maxQueueSize: 1,
  maxJournalBytes: 1, maxSegmentBytes: 1, groupCommitMillis: 1, heartbeatIntervalMillis: 1, flushTimeoutMillis: 1, recover: 1, staleAfterMillis: 1, pendingSpanMillis: 1, logExporter: 1,
} satisfies Record<keyof JournalSpanProcessorOptions, 1>);

export function resolveProcessorOptions(options: JournalSpanProcessorOptions): ResolvedProcessorOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least `exporter`', options);
  }
  knownOptionsOnly('JournalSpanProcessor', options, OPTION_NAMES);
  const exporter = exporterOption('exporter', options.exporter, 'a SpanExporter');
  const logExporter = optionalLogExporter(options.logExporter);
  const envBatchSize = envPositiveInteger(ENV.maxExportBatchSize);
  const envQueueSize = envPositiveInteger(ENV.maxQueueSize);
  const envJournalBytes = envBytesAtLeast(ENV.maxJournalBytes, MIN_JOURNAL_BYTES, MIN_JOURNAL_REASON);
  const resolved: ResolvedProcessorOptions = {
    exporter,
    logExporter,
    // Absolute from here on: relative, a process.chdir() later moved the journal under it.
    journalDir: resolve(directoryPath('journalDir', options.journalDir, envJournalDir() ?? D.journalDir)),
    durability: oneOf('durability', options.durability, DURABILITY_LEVELS, envDurability() ?? D.durability),
    maxExportBatchSize: positiveInteger(
      'maxExportBatchSize',
      options.maxExportBatchSize,
      envBatchSize ?? D.maxExportBatchSize,
    ),
    maxConcurrentExports: positiveInteger('maxConcurrentExports', options.maxConcurrentExports, storesInPostgres(exporter) ? D.maxConcurrentExports : D.maxConcurrentExportsElsewhere),
    scheduledDelayMillis: millis('scheduledDelayMillis', options.scheduledDelayMillis, envMillis(ENV.scheduledDelayMillis, 0) ?? D.scheduledDelayMillis, 0),
    exportTimeoutMillis: millis('exportTimeoutMillis', options.exportTimeoutMillis, envMillis(ENV.exportTimeoutMillis, 1) ?? D.exportTimeoutMillis, 1),
    maxQueueSize: positiveInteger('maxQueueSize', options.maxQueueSize, envQueueSize ?? D.maxQueueSize),
    maxJournalBytes: bytesAtLeast('maxJournalBytes', options.maxJournalBytes, envJournalBytes ?? D.maxJournalBytes, MIN_JOURNAL_BYTES, MIN_JOURNAL_REASON),
    maxSegmentBytes: bytesAtLeast('maxSegmentBytes', options.maxSegmentBytes, D.maxSegmentBytes, MIN_SEGMENT_BYTES, 'a page, the smallest segment'),
    groupCommitMillis: millis('groupCommitMillis', options.groupCommitMillis, D.groupCommitMillis, 1),
    heartbeatIntervalMillis: millis('heartbeatIntervalMillis', options.heartbeatIntervalMillis, D.heartbeatIntervalMillis, 1),
    flushTimeoutMillis: millis('flushTimeoutMillis', options.flushTimeoutMillis, D.flushTimeoutMillis, 1),
    recover: booleanOption('recover', options.recover, D.recover),
    staleAfterMillis: millis('staleAfterMillis', options.staleAfterMillis, RECOVERY_DEFAULTS.staleAfterMillis, 1),
    pendingSpanMillis: millis('pendingSpanMillis', options.pendingSpanMillis, D.pendingSpanMillis, 0),
  };
  if (resolved.maxExportBatchSize > resolved.maxQueueSize) {
    // A batch larger than the queue drops what a burst puts beyond the queue. Refused when
    // the code asked for both (or the batch against the default queue); held to the queue,
    // and said, when the environment set either: it never takes the application down.
    const queueFromEnvironment = options.maxQueueSize === undefined && envQueueSize !== undefined;
    if (options.maxExportBatchSize !== undefined && !queueFromEnvironment) {
      throw new InvalidOptionError('maxExportBatchSize', `at most maxQueueSize (${resolved.maxQueueSize})`, resolved.maxExportBatchSize);
    }
    const size = resolved.maxExportBatchSize;
    const asked =
      options.maxExportBatchSize !== undefined ? `maxExportBatchSize=${size}`
      : envBatchSize !== undefined ? `${ENV.maxExportBatchSize}=${size}`
      : `the default maxExportBatchSize (${size})`;
    const queue = queueFromEnvironment ? `${resolved.maxQueueSize}, from ${ENV.maxQueueSize}` : `${resolved.maxQueueSize}`;
    safeDiag.warn(`otel-blackbox: ${asked} is more than maxQueueSize (${queue}): batches of ${resolved.maxQueueSize} are exported.`);
    resolved.maxExportBatchSize = resolved.maxQueueSize;
  }
  resolved.maxSegmentBytes = segmentBytesWithin(resolved.maxJournalBytes, options.maxSegmentBytes, options.maxJournalBytes === undefined && envJournalBytes !== undefined);
  return resolved;
}

/** The smallest segment: a page (a mapped segment is made of whole pages). */
const MIN_SEGMENT_BYTES = 4096;
/**
 * The smallest journal: the segment being written and the next. A smaller cap left no room
 * for a segment's head and a record: every span went unjournaled, with no crash protection,
 * and a cap of 1024 is what someone who meant KiB writes.
 */
const MIN_JOURNAL_BYTES = 2 * MIN_SEGMENT_BYTES;
const MIN_JOURNAL_REASON = 'two of the smallest segments';

/**
 * The segment size for a journal capped at `maxJournalBytes`. A mapped segment is
 * preallocated whole, and the next one made ahead: the 8 MiB default under a 1 MiB cap
 * took 8 MiB of disk. By default, an eighth of the cap at most. One asked for in code
 * that is larger than the cap is refused, or held to an eighth of it, and said, when the
 * environment set the cap.
 */
function segmentBytesWithin(maxJournalBytes: number, asked: number | undefined, capFromEnvironment: boolean): number {
  const scaled = Math.max(MIN_SEGMENT_BYTES, Math.min(D.maxSegmentBytes, Math.floor(maxJournalBytes / 8)));
  if (asked === undefined) return scaled;
  if (asked <= maxJournalBytes) return asked;
  if (!capFromEnvironment) throw new InvalidOptionError('maxSegmentBytes', `at most maxJournalBytes (${maxJournalBytes})`, asked);
  safeDiag.warn(
    `otel-blackbox: maxSegmentBytes=${asked} is more than maxJournalBytes (${maxJournalBytes}, from ${ENV.maxJournalBytes}): segments of ${scaled} bytes are used.`,
  );
  return scaled;
}

