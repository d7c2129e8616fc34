// Options of JournalSpanProcessor, resolved once: code, then environment, then default.
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { envNonNegativeInteger, envString } from '../options/environment.js';
import { InvalidOptionError, nonEmptyString, nonNegativeInteger, oneOf, positiveInteger, booleanOption } from '../options/validate.js';

export type DurabilityLevel = 'process' | 'host' | 'none';
const DURABILITY_LEVELS: readonly DurabilityLevel[] = ['process', 'host', 'none'];

export interface JournalSpanProcessorOptions {
  /** Where spans go once committed to the journal. Any SpanExporter works. Required. */
  exporter: SpanExporter;
  /** Directory of the journal. Default `OTEL_BLACKBOX_JOURNAL_DIR`, else `'.otel-journal'`. */
  journalDir?: string;
  /**
   * `'process'` (default): one write(2) per record; survives any death of the process, not
   * power loss. `'host'`: also fdatasync'ed by group commit within `groupCommitMillis`.
   * `'none'`: no journal, in-memory batching only. Env `OTEL_BLACKBOX_DURABILITY`.
   */
  durability?: DurabilityLevel;
  /** Spans per export() call. Default `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, else 512. */
  maxExportBatchSize?: number;
  /**
   * Batches exported at the same time. More than one lets PostgreSQL commit one batch while
   * the next is read from the journal; the commit watermark still advances in order. Default 2.
   */
  maxConcurrentExports?: number;
  /** Longest wait before a partial batch is exported. Default `OTEL_BSP_SCHEDULE_DELAY`, else 1000 ms. */
  scheduledDelayMillis?: number;
  /** How long one export() may take before it counts as failed and is retried. Default `OTEL_BSP_EXPORT_TIMEOUT`, else 30000 ms. */
  exportTimeoutMillis?: number;
  /** Spans held in memory when they cannot be journaled (durability 'none', broken or full journal). Default `OTEL_BSP_MAX_QUEUE_SIZE`, else 2048. */
  maxQueueSize?: number;
  /** Cap on journal bytes on disk; past it new spans are counted as dropped. Default `OTEL_BLACKBOX_MAX_JOURNAL_BYTES`, else 1 GiB. */
  maxJournalBytes?: number;
  /** A segment is closed and a new one started past this size. Default 8 MiB. */
  maxSegmentBytes?: number;
  /** Durability 'host': the longest a record waits for its fdatasync. Default 10 ms. */
  groupCommitMillis?: number;
  /** Interval of the heartbeat records recovery uses as the last sign of life. Default 2000 ms. */
  heartbeatIntervalMillis?: number;
  /** How long forceFlush() and shutdown() wait for the database. Default 30000 ms. */
  flushTimeoutMillis?: number;
  /** Recover journals of dead processes from `journalDir` in the background at start. Default true. */
  recover?: boolean;
}

export interface ResolvedProcessorOptions extends Required<Omit<JournalSpanProcessorOptions, 'exporter'>> {
  exporter: SpanExporter;
}

export function resolveProcessorOptions(options: JournalSpanProcessorOptions): ResolvedProcessorOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least `exporter`', options);
  }
  const exporter = options.exporter;
  if (typeof exporter !== 'object' || exporter === null || typeof exporter.export !== 'function') {
    throw new InvalidOptionError('exporter', 'a SpanExporter (an object with export())', exporter);
  }
  const envDurability = envString('OTEL_BLACKBOX_DURABILITY') as DurabilityLevel | undefined;
  const resolved: ResolvedProcessorOptions = {
    exporter,
    journalDir: nonEmptyString('journalDir', options.journalDir, envString('OTEL_BLACKBOX_JOURNAL_DIR') ?? '.otel-journal'),
    durability: oneOf('durability', options.durability, DURABILITY_LEVELS, envDurability && DURABILITY_LEVELS.includes(envDurability) ? envDurability : 'process'),
    maxExportBatchSize: positiveInteger('maxExportBatchSize', options.maxExportBatchSize, envPositive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512),
    maxConcurrentExports: positiveInteger('maxConcurrentExports', options.maxConcurrentExports, 2),
    scheduledDelayMillis: nonNegativeInteger('scheduledDelayMillis', options.scheduledDelayMillis, envNonNegativeInteger('OTEL_BSP_SCHEDULE_DELAY') ?? 1000),
    exportTimeoutMillis: positiveInteger('exportTimeoutMillis', options.exportTimeoutMillis, envPositive('OTEL_BSP_EXPORT_TIMEOUT') ?? 30_000),
    maxQueueSize: positiveInteger('maxQueueSize', options.maxQueueSize, envPositive('OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048),
    maxJournalBytes: positiveInteger('maxJournalBytes', options.maxJournalBytes, envPositive('OTEL_BLACKBOX_MAX_JOURNAL_BYTES') ?? 1024 ** 3),
    maxSegmentBytes: positiveInteger('maxSegmentBytes', options.maxSegmentBytes, 8 * 1024 * 1024),
    groupCommitMillis: positiveInteger('groupCommitMillis', options.groupCommitMillis, 10),
    heartbeatIntervalMillis: positiveInteger('heartbeatIntervalMillis', options.heartbeatIntervalMillis, 2000),
    flushTimeoutMillis: positiveInteger('flushTimeoutMillis', options.flushTimeoutMillis, 30_000),
    recover: booleanOption('recover', options.recover, true),
  };
  if (resolved.maxExportBatchSize > resolved.maxQueueSize && options.maxQueueSize !== undefined) {
    throw new InvalidOptionError('maxExportBatchSize', `at most maxQueueSize (${resolved.maxQueueSize})`, resolved.maxExportBatchSize);
  }
  return resolved;
}

function envPositive(name: string): number | undefined {
  const value = envNonNegativeInteger(name);
  return value === 0 ? undefined : value;
}
