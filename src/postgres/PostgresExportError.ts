// What an export callback receives with FAILED: a sentence that says what happened, to
// which database, and what to do, with the driver's error as `cause`.
import { classifyError, meansSchemaOutOfDate, sqlStateOf, SQLSTATE, type ErrorKind } from './sqlState.js';

export class PostgresExportError extends Error {
  /** `transient`: retry later. Otherwise a change (configuration, schema, role) is needed first. */
  readonly kind: ErrorKind;
  readonly sqlState: string | undefined;

  constructor(message: string, kind: ErrorKind, sqlState: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostgresExportError';
    this.kind = kind;
    this.sqlState = sqlState;
  }

  get retryable(): boolean {
    return this.kind === 'transient';
  }
}

/**
 * COMMIT was sent and its reply never came (the connection broke): the server may or may
 * not have applied it. Carries the driver error's message and code, so it classifies as
 * that error does (transient), and is the one failure not reported as "Nothing was written".
 */
export class CommitOutcomeUnknownError extends Error {
  readonly code: string | undefined;

  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'CommitOutcomeUnknownError';
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : undefined;
  }
}

export interface FailureContext {
  /** What was being done, e.g. "write 512 spans to PostgreSQL at db:5432/app". */
  action: string;
  schema: string;
  /** The error as it may be shown: secrets already removed. */
  cause: unknown;
  /** The exporter migrates its schema itself (migrate: true): a missing one is made again. */
  migrates?: boolean;
  /** What failed was the migration, not the batch's statements. */
  migrating?: boolean;
}

export function exportError({ action, schema, cause, migrates = false, migrating = false }: FailureContext): PostgresExportError {
  const kind = classifyError(cause);
  const sqlState = sqlStateOf(cause);
  const reason = reasonOf(cause, sqlState);
  // By name: withoutSecrets may have copied the error.
  const next = (cause as Error | null)?.name === 'CommitOutcomeUnknownError' ? COMMIT_UNKNOWN_ADVICE : advice(kind, sqlState, reason, { schema, migrates, migrating });
  // A reason that is a sentence already (ours: ForeignMigrationsTableError, ...) gets no second full stop.
  const message = `PostgresSpanExporter could not ${action}: ${reason}${/[.!?]$/.test(reason) ? '' : '.'} ${next}`;
  return new PostgresExportError(message, kind, sqlState, { cause });
}

function reasonOf(cause: unknown, sqlState: string | undefined): string {
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  if (sqlState !== undefined) return `${message} (SQLSTATE ${sqlState})`;
  if (typeof code === 'string' && !message.includes(code)) return `${message} (${code})`;
  return message || (typeof code === 'string' ? code : 'unknown error');
}

/** PgBouncer's answer to BEGIN in statement pooling (08P01, transient by class: it never passes). */
const STATEMENT_POOLING = /transaction blocks not allowed in statement pooling mode/;
const STATEMENT_POOLING_ADVICE =
  'Nothing was written. A batch is one transaction, which PgBouncer\'s statement pooling cannot run: use transaction or session pooling for the exporter (pool_mode); the batches wait in the journal until then.';

const COMMIT_UNKNOWN_ADVICE =
  'The connection was lost after COMMIT was sent, so the batch may or may not have been written; ' +
  'retrying it is safe (rows are upserted, never duplicated).';

function advice(kind: ErrorKind, sqlState: string | undefined, reason: string, { schema, migrates, migrating }: { schema: string; migrates: boolean; migrating: boolean }): string {
  if (STATEMENT_POOLING.test(reason)) return STATEMENT_POOLING_ADVICE;
  if (kind === 'transient') return 'Nothing was written; the batch can be retried.';
  if (meansSchemaOutOfDate(sqlState)) {
    return migrates
      ? `Nothing was written. The schema "${schema}" is missing or out of date (dropped, or restored from an older dump): it is migrated again before the next batch.`
      : `Nothing was written. The schema "${schema}" is missing or out of date: run the migrations (option migrate: true, or \`npx otel-blackbox migrate\`).`;
  }
  switch (sqlState) {
    case SQLSTATE.INSUFFICIENT_PRIVILEGE:
      if (migrating) {
        return `Nothing was written. The role may not change the schema "${schema}": run \`npx otel-blackbox migrate --schema ${schema}\` as its owner, or give the exporter migrate: false once it is up to date (docs/postgres-exporter.md, "What the role needs"). The batches wait in the journal.`;
      }
      return `Nothing was written. Grant the exporter's role USAGE on schema "${schema}", SELECT, INSERT, UPDATE on its tables and DELETE on its logs table (docs/postgres-exporter.md, "What the role needs").`;
    case SQLSTATE.INVALID_PASSWORD:
    case SQLSTATE.INVALID_AUTHORIZATION:
    case SQLSTATE.INVALID_CATALOG_NAME:
      return 'Nothing was written. Check the connection settings (user, password, database).';
    default:
      return 'Nothing was written.';
  }
}
