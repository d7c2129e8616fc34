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
  /** The specification's switch for the whole SDK: 'true' makes the processor do nothing. */
  sdkDisabled: 'OTEL_SDK_DISABLED',
} as const;

export type DurabilityLevel = 'process' | 'host' | 'none';
export const DURABILITY_LEVELS: readonly DurabilityLevel[] = ['process', 'host', 'none'];

/** Defaults of JournalSpanProcessor (see JournalSpanProcessorOptions for what each means). */
export const PROCESSOR_DEFAULTS = {
  journalDir: '.otel-journal',
  durability: 'process' as DurabilityLevel,
  // Behind PostgresSpanExporter as behind any other exporter. There, fewer, larger
  // transactions cost PostgreSQL less per span, but the exporter takes a batch from spans
  // to bound parameters in turns of the event loop of ~16 ms, shared by every batch in
  // flight (TurnBudget.ts): a default batch needs about one, and the turns a batch spans,
  // and what it promotes under load, grow with the batch. Measured against 1024:
  // one turn of p50 4.3 ms, p99 12 ms (1024: 12.5 and 35 ms) and 72-75 MiB promoted per
  // million spans under bench/overload.mjs (1024: 88-106, peak RSS +71 to +97 MiB); recovery
  // as fast with shorter stalls (bench/recovery.mjs: p99 13-15 ms against 17-18); end to end
  // slower: 61-71% of a COPY against 61-82% (bench/end-to-end.mjs, four runs, 1024 ahead in
  // three). An application that wants the throughput and can take the longer turns sets
  // 1024. Network exporters have message size limits.
  maxExportBatchSize: 512,
  maxConcurrentExports: 2,
  /** Behind an exporter other than PostgresSpanExporter: the SpanExporter contract's one call at a time (storesInPostgres). */
  maxConcurrentExportsElsewhere: 1,
  scheduledDelayMillis: 1000,
  exportTimeoutMillis: 30_000,
  maxQueueSize: 2048,
  maxJournalBytes: 1024 ** 3,
  maxSegmentBytes: 8 * 1024 * 1024,
  groupCommitMillis: 10,
  heartbeatIntervalMillis: 2000,
  // With the 1 s margin (EXPORTER_GRACE_MILLIS), under the SDK providers' own 30 s
  // forceFlush timeout: at 30 s, a flush during a database outage made the provider's
  // forceFlush() reject.
  flushTimeoutMillis: 25_000,
  // Request spans rarely last 10 s (a p99 far above that is an incident of its own), so
  // 'started' rows are written only for genuinely long work: each costs a row written now
  // and updated when the span ends. It also bounds how stale "what is running now" is.
  pendingSpanMillis: 10_000,
  recover: true,
} as const;

/** Defaults of recoverJournals() and `otel-blackbox recover`. */
export const RECOVERY_DEFAULTS = {
  journalDir: PROCESSOR_DEFAULTS.journalDir,
  staleAfterMillis: 300_000,
  maxExportBatchSize: PROCESSOR_DEFAULTS.maxExportBatchSize,
  exportTimeoutMillis: PROCESSOR_DEFAULTS.exportTimeoutMillis,
  /**
   * Batches in flight behind PostgresSpanExporter: up to 4, and up to this many spans in
   * all (recoverJournals.ts, batchesInFlight); behind any other exporter, one.
   */
  maxConcurrentExports: 4,
  maxSpansInFlight: 4096,
  maxConcurrentExportsElsewhere: PROCESSOR_DEFAULTS.maxConcurrentExportsElsewhere,
  maxAttempts: 5,
  recoverForeignJournals: false,
  recoverAnyDestination: false,
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
