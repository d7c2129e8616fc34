// A SpanExporter that commits each batch to PostgreSQL in one transaction: traces, spans
// and span events together, or nothing. Works behind JournalSpanProcessor (crash records,
// retries from the journal) or the stock BatchSpanProcessor.
import { context, diag } from '@opentelemetry/api';
import { ExportResultCode, globalErrorHandler, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import pg from 'pg';
import { resolveExporterOptions, type PostgresSpanExporterOptions } from './exporterOptions.js';
import { mergeSpanRows } from './mergeSpanRows.js';
import { migrateSchema } from './migrate.js';
import { exportError, PostgresExportError } from './PostgresExportError.js';
import { describeTarget, redact, secretsOf, withoutSecrets, type ConnectionFacts, type TargetFacts } from './redact.js';
import { quoteSchema } from './schemaName.js';
import { SpanRowConverter, type SpanRow } from './spanRows.js';
import { Statements } from './statements.js';
import { writeBatch } from './writeBatch.js';

export type { PostgresSpanExporterOptions } from './exporterOptions.js';

type PoolFacts = TargetFacts & ConnectionFacts;

export class PostgresSpanExporter implements SpanExporter {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #migrate: boolean;
  readonly #statements: Statements;
  readonly #target: string;
  readonly #secrets: string[];
  readonly #inFlight = new Set<Promise<void>>();
  #schemaReady: Promise<void> | undefined;
  /** Spans PostgreSQL refused for good and that went to dead_letters (read by the processor's metrics). */
  deadLettered = 0;
  #shutdown: Promise<void> | undefined;

  constructor(options: PostgresSpanExporterOptions = {}) {
    const resolved = resolveExporterOptions(options);
    this.#schema = resolved.schema;
    this.#migrate = resolved.migrate;
    this.#statements = new Statements(quoteSchema(resolved.schema));
    this.#ownsPool = resolved.pool === undefined;
    // pg-pool keeps its options on the pool: the only way to name a caller's pool's server.
    const poolOptions = (resolved.pool as { options?: PoolFacts } | undefined)?.options ?? {};
    const connectionString = resolved.connectionString ?? poolOptions.connectionString;
    this.#target = describeTarget({ ...poolOptions, connectionString });
    this.#secrets = secretsOf({ connectionString, password: poolOptions.password });
    this.#pool = resolved.pool ?? this.#createPool(resolved);
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.#shutdown !== undefined) {
      const error = new PostgresExportError('PostgresSpanExporter is shut down; the batch was not written.', 'permanent', undefined);
      deliver(resultCallback, { code: ExportResultCode.FAILED, error });
      return;
    }
    // The exporter's own queries must never be traced: pg instrumentation would feed them
    // back into this exporter.
    const work = context.with(suppressTracing(context.active()), () => this.#write(spans));
    this.#track(work);
    work.then(
      () => deliver(resultCallback, { code: ExportResultCode.SUCCESS }),
      (error: Error) => deliver(resultCallback, { code: ExportResultCode.FAILED, error }),
    );
  }

  /** Resolves when every export started so far has committed or failed. */
  async forceFlush(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Waits for in-flight batches, then ends the pool if the exporter created it. Safe to call again. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#close();
    return this.#shutdown;
  }

  async #close(): Promise<void> {
    await this.forceFlush();
    if (!this.#ownsPool) return;
    try {
      await this.#pool.end();
    } catch (error) {
      diag.warn(`PostgresSpanExporter: closing the pool failed: ${this.#redacted(error)}`);
    }
  }

  async #write(spans: ReadableSpan[]): Promise<void> {
    const rows = await this.#rows(spans);
    if (rows.length === 0) return;
    await this.#ensureSchema();
    try {
      const { deadLettered } = await writeBatch(this.#pool, this.#statements, rows);
      if (deadLettered > 0) {
        this.deadLettered += deadLettered;
        diag.warn(
          `PostgresSpanExporter: PostgreSQL refused ${deadLettered} of ${rows.length} spans; they are in "${this.#schema}".dead_letters with the error, and the rest were committed.`,
        );
      }
    } catch (error) {
      throw this.#failure(`write ${rows.length} spans to ${this.#target}`, error);
    }
  }

  async #rows(spans: ReadableSpan[]): Promise<SpanRow[]> {
    // Resource detectors may still be running; their attributes belong in the rows.
    const pending = new Set(spans.map((span) => span.resource).filter((resource) => resource?.asyncAttributesPending));
    await Promise.all([...pending].map((resource) => resource.waitForAsyncAttributes?.()));
    const converter = new SpanRowConverter();
    const rows: SpanRow[] = [];
    let unreadable: unknown;
    let unreadableCount = 0;
    for (const span of spans) {
      try {
        rows.push(converter.toRow(span));
      } catch (error) {
        unreadable ??= error;
        unreadableCount++;
      }
    }
    if (unreadableCount > 0) {
      diag.error(`PostgresSpanExporter: skipped ${unreadableCount} spans that could not be read: ${this.#redacted(unreadable)}`);
    }
    return mergeSpanRows(rows);
  }

  #ensureSchema(): Promise<void> {
    if (!this.#migrate) return Promise.resolve();
    this.#schemaReady ??= migrateSchema(this.#pool, this.#schema).then(
      ({ applied }) => {
        if (applied.length > 0) diag.info(`PostgresSpanExporter: applied migrations ${applied.join(', ')} to schema "${this.#schema}".`);
      },
      (error: unknown) => {
        this.#schemaReady = undefined; // the next batch tries again
        throw this.#failure(`migrate schema "${this.#schema}" in ${this.#target}`, error);
      },
    );
    return this.#schemaReady;
  }

  #failure(action: string, error: unknown): PostgresExportError {
    const failure = exportError({ action, schema: this.#schema, cause: withoutSecrets(error, this.#secrets) });
    failure.message = redact(failure.message, this.#secrets);
    diag.debug(failure.message);
    return failure;
  }

  #createPool(resolved: ReturnType<typeof resolveExporterOptions>): pg.Pool {
    const pool = new pg.Pool({
      connectionString: resolved.connectionString,
      max: resolved.maxConnections,
      application_name: resolved.applicationName,
      connectionTimeoutMillis: resolved.connectionTimeoutMillis,
      // Telemetry must not keep a finished application alive.
      allowExitOnIdle: true,
      // Notice a silently dropped connection (a NAT timeout, a failover) instead of waiting on it.
      keepAlive: true,
    });
    // Without a listener, an idle connection dropped by the server crashes the process.
    pool.on('error', (error) => diag.warn(`PostgresSpanExporter: an idle connection to ${this.#target} failed: ${this.#redacted(error)}`));
    return pool;
  }

  #redacted(error: unknown): string {
    return redact(error instanceof Error ? error.message : String(error), this.#secrets);
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work);
    const done = () => this.#inFlight.delete(work);
    work.then(done, done);
  }
}

/** Calls the exporter's caller back exactly once; a throwing callback is not our failure. */
function deliver(resultCallback: (result: ExportResult) => void, result: ExportResult): void {
  try {
    resultCallback(result);
  } catch (error) {
    globalErrorHandler(error as Error);
  }
}
