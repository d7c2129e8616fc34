// The single public entry point: explicit named exports only.

// PostgreSQL exporter (issue: PostgresSpanExporter)
export { PostgresSpanExporter } from './postgres/PostgresSpanExporter.js';
export type { PostgresSpanExporterOptions } from './postgres/PostgresSpanExporter.js';
export { PostgresExportError } from './postgres/PostgresExportError.js';
export type { ErrorKind } from './postgres/sqlState.js';
export type { KeyedLogRecord, RefusedRecords, SpansAndLogs, SpansAndLogsExporter } from './export/SpansAndLogs.js';

// The schema's upkeep from code: what `otel-blackbox migrate` and `prune` do
export { migrateSchema, migrationScript, SchemaTooNewError, ForeignMigrationsTableError, MissingTableError, MigrationUnderWayError, MigrationsIncompleteError } from './postgres/migrate.js';
export type { MigrateSchemaOptions } from './postgres/migrate.js';
export { pruneSchema } from './postgres/prune.js';
export type { PruneOptions, PruneReport } from './postgres/prune.js';

// Span markers shared by every exporter
export {
  ATTR_SPAN_STATE,
  ATTR_CRASH_REASON,
  ATTR_END_TIME_ESTIMATED,
  ATTR_DROPPED_SPANS,
  ATTR_TRUNCATED,
  ATTR_WRITER_ID,
  OVERFLOW_SPAN_NAME,
} from './spanMarkers.js';
export type { SpanState } from './spanMarkers.js';
export { InvalidOptionError } from './options/validate.js';

// Journal span processor (issue: JournalSpanProcessor)
export { JournalSpanProcessor } from './processor/JournalSpanProcessor.js';
export type { JournalProcessorStats } from './processor/JournalSpanProcessor.js';
export type { JournalSpanProcessorOptions, DurabilityLevel } from './processor/processorOptions.js';
export { JournalLogRecordProcessor } from './processor/JournalLogRecordProcessor.js';
export type { JournalLogRecordProcessorOptions } from './processor/JournalLogRecordProcessor.js';

// Recovery of dead processes' journals (issue: crash records)
export { recoverJournals } from './recovery/recoverJournals.js';
export type { RecoverJournalsOptions, RecoveryReport, JournalRecoveryProgress, RecoveredBatch, JournalVerdict } from './recovery/recoverJournals.js';
