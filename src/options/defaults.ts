// Every default and every environment variable name, declared once. Options modules,
// recovery and the CLI import these, so `recoverJournals()` scans the directory the
// processor writes to, and the CLI migrates the schema the exporter writes to.
// (Three copies of '.otel-journal' and 'otel' drifted apart before: issue #12.)
import { JOURNAL_IO_ENV } from '../journal/segmentFile/openSegmentFile.js';

/** Environment variable names. Precedence everywhere: code, then environment, then default. */
export const ENV = {
  /** Journal directory of the processor, of `recoverJournals()` and of `otel-blackbox recover`. */
  journalDir: 'OTEL_BLACKBOX_JOURNAL_DIR',
  /** 'process' | 'host' | 'none'. */
  durability: 'OTEL_BLACKBOX_DURABILITY',
  maxJournalBytes: 'OTEL_BLACKBOX_MAX_JOURNAL_BYTES',
  /** 'write' forces the journal's write(2) path; 'auto' (or unset) maps segments where it can. Read where segments are opened (journal/ imports nothing of ours). */
  journalIo: JOURNAL_IO_ENV,
  /** Schema of the tables, for the exporter and the CLI. */
  schema: 'OTEL_BLACKBOX_SCHEMA',
  /** Connection string of the exporter and the CLI (else node-postgres reads PG*). */
  databaseUrl: 'DATABASE_URL',
  // The BatchSpanProcessor's variables from the OpenTelemetry specification, honoured alike.
  maxExportBatchSize: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  scheduledDelayMillis: 'OTEL_BSP_SCHEDULE_DELAY',
  exportTimeoutMillis: 'OTEL_BSP_EXPORT_TIMEOUT',
  maxQueueSize: 'OTEL_BSP_MAX_QUEUE_SIZE',
} as const;

export type DurabilityLevel = 'process' | 'host' | 'none';
export const DURABILITY_LEVELS: readonly DurabilityLevel[] = ['process', 'host', 'none'];

/** Defaults of JournalSpanProcessor (see JournalSpanProcessorOptions for what each means). */
export const PROCESSOR_DEFAULTS = {
  journalDir: '.otel-journal',
  durability: 'process' as DurabilityLevel,
  maxExportBatchSize: 512,
  // Behind PostgresSpanExporter (an exporter that takes spans and logs in one transaction):
  // fewer, larger transactions cost PostgreSQL less per span, up to a point.
  // bench/end-to-end.mjs, same run: 30,900 spans/s with 512, 37,500 with 2048 (51% and 62%
  // of a COPY of the rows). 1024 rather than 2048: end to end the same within this VM's
  // noise (10 interleaved rounds: 19,700–23,900 against 18,300–23,600 spans/s), while the
  // batches in flight hold half as much, and under overload that memory reaches the old
  // generation (bench/overload.mjs, 1M spans, own process: peak RSS +117 MiB against +151,
  // at 4% fewer spans/s). 512 stays the default elsewhere: network exporters have message
  // size limits.
  maxExportBatchSizeForPostgres: 1024,
  maxConcurrentExports: 2,
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2048,
  maxJournalBytes: 1024 ** 3,
  maxSegmentBytes: 8 * 1024 * 1024,
  groupCommitMillis: 10,
  heartbeatIntervalMillis: 2000,
  flushTimeoutMillis: 30_000,
  // Request spans rarely last 10 s (a p99 far above that is an incident of its own), so
  // 'started' rows are written only for genuinely long work: each costs a row written now
  // and updated when the span ends. It also bounds how stale "what is running now" is.
  pendingSpanMillis: 10_000,
  recover: true,
} as const;

/**
 * The default `maxExportBatchSize` of the processor and of recovery: larger behind an
 * exporter that takes spans and logs in one transaction (`exportsLogs`, PostgresSpanExporter).
 */
export function defaultExportBatchSize(exportsSpansAndLogs: boolean): number {
  return exportsSpansAndLogs ? PROCESSOR_DEFAULTS.maxExportBatchSizeForPostgres : PROCESSOR_DEFAULTS.maxExportBatchSize;
}

/** Defaults of recoverJournals() and `otel-blackbox recover`. */
export const RECOVERY_DEFAULTS = {
  journalDir: PROCESSOR_DEFAULTS.journalDir,
  staleAfterMillis: 300_000,
  exportTimeoutMillis: PROCESSOR_DEFAULTS.exportTimeoutMillis,
  maxAttempts: 5,
  recoverForeignJournals: false,
} as const;

/** Defaults of PostgresSpanExporter and of the CLI's database commands. */
export const EXPORTER_DEFAULTS = {
  schema: 'otel',
  migrate: true,
  maxConnections: 4,
  applicationName: 'otel-blackbox',
  connectionTimeoutMillis: 10_000,
  exportTimeoutMillis: PROCESSOR_DEFAULTS.exportTimeoutMillis,
} as const;

/** Defaults of `otel-blackbox ui`. Loopback only: the viewer has no authentication. */
export const VIEWER_DEFAULTS = {
  host: '127.0.0.1',
  port: 4455,
} as const;
