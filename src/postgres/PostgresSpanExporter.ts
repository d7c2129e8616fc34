// A SpanExporter that commits each batch to PostgreSQL in one transaction: traces, spans
// and span events together, or nothing. Works behind JournalSpanProcessor (crash records,
// retries from the journal) or the stock BatchSpanProcessor. exportBatch() takes log
// records along with spans and commits them in the same transaction as their span's row.
import { context } from '@opentelemetry/api';
import { holdDiag, safeDiag, sayHeld, sayingHeldIfThrown, stopHoldingDiag } from '../safeDiag.js';
import { ExportResultCode, globalErrorHandler, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { KeyedLogRecord, RefusedRecords, SpansAndLogs, SpansAndLogsExporter } from '../export/SpansAndLogs.js';
import pg from 'pg';
import { resolveExporterOptions, type PostgresSpanExporterOptions } from './exporterOptions.js';
import { mergeSpanRows } from './mergeSpanRows.js';
import { MigrationUnderWayError, applyMigrations, failedToConnect, missingMigrations, type DeferredMigration } from './migrate.js';
import { SchemaRetry } from './SchemaRetry.js';
import { version as LOG_SCOPE_ATTRIBUTES_MIGRATION } from './migrations/0008_log_scope_attributes.js';
import { exportError, PostgresExportError } from './PostgresExportError.js';
import { postgresDestination } from './destination.js';
import { describeTarget, redact, secretsOf, withoutSecrets, type ConnectionFacts, type TargetFacts } from './redact.js';
import { quoteSchema } from './schemaName.js';
import { hasScopeAttributesColumn, lacksScopeAttributes } from './scopeAttributesColumn.js';
import { toLogRow, type LogRow } from './logRows.js';
import { keyId, SpanRowConverter, type SpanRow } from './spanRows.js';
import { sanitizeString } from './sanitize.js';
import { meansSchemaOutOfDate, SQLSTATE, sqlStateOf } from './sqlState.js';
import { Statements, type LogKey, type Statement } from './statements.js';
import { TurnBudget } from '../TurnBudget.js';
import { RefusedRows } from './isolateBadRecords.js';
import { writeBatch } from './writeBatch.js';
import { bindRows, type BoundRows, type RowBatch } from './writeRows.js';
import { beforeDeadline } from './beforeDeadline.js';
import { ConnectingClients } from './ConnectingClients.js';

/**
 * Spans (or log records) converted to rows between two looks at the batch's turn budget
 * (TurnBudget.ts). A batch's spans alive across a turn of the event loop are alive when
 * the host's own work sets off scavenges: slices of 256 in turns of their own made the
 * spans parsed back from the journal half of what reached the old generation in
 * bench/overload.mjs.
 */
const CONVERT_SLICE = 64;

/**
 * Once shut down, how long a connection still being made may take (ConnectingClients.ts).
 * A server that answers completes one in milliseconds (tens with TLS across a region).
 * JournalSpanProcessor calls shutdown() by its flush deadline and waits 1 s past it
 * (EXPORTER_GRACE_MILLIS): a connect given up on by then never outlives the processor's
 * shutdown, which the process was waiting on.
 */
const SHUTDOWN_CONNECT_GRACE_MILLIS = 1000;

export type { PostgresSpanExporterOptions } from './exporterOptions.js';

type PoolFacts = TargetFacts & ConnectionFacts;

/** How often a failed idle connection is said at most (the pool replaces it either way). */
const IDLE_FAILURE_NOTICE_MILLIS = 10 * 60_000;

export class PostgresSpanExporter implements SpansAndLogsExporter {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #migrate: boolean;
  #statements: Statements;
  /** What the schema lacks was said (once per exporter). */
  #saidMissing = false;
  /** When to look at the schema again (#ensureSchema), and how long after that. */
  #lookAgainAt: number | undefined;
  #lookAgainMillis = LOOK_AGAIN_FIRST_MILLIS;
  readonly #target: string;
  readonly #secrets: string[];
  readonly #exportTimeoutMillis: number;
  /** How long the own pool waits for a connection, and the option that set it: said when a connect times out (pg does not say). */
  readonly #connectWait: ConnectWait | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  /** The own pool's connects under way: shutdown gives up on those of a server that does not answer. */
  readonly #connecting = new ConnectingClients();
  /** Resources whose detectors did not settle in a batch's time: not waited for again. */
  readonly #givenUpOn = new WeakSet<ReadableSpan['resource']>();
  /** Once a resource's detectors hung, new resources' are waited for briefly (HUNG_DETECTORS_GRACE_MILLIS). */
  #detectorsHung = false;
  #schemaReady: Promise<void> | undefined;
  /** After a migration the database refused, batches wait for the next attempt's time (SchemaRetry.ts). */
  readonly #schemaRetry = new SchemaRetry();
  /** Spans PostgreSQL refused for good and that went to dead_letters (read by the processor's metrics). */
  deadLettered = 0;
  /**
   * Where the rows go, without credentials (`postgresql://host:port/database?schema=name`).
   * The processor records it in its journal, and recovery exports a dead journal only to
   * the destination its writer exported to (see recoverJournals).
   */
  readonly destination: string;
  #shutdown: Promise<void> | undefined;

  constructor(options: PostgresSpanExporterOptions = {}) {
    // Built inside `new NodeSDK(...)`, before it installs its logger: said after this turn (safeDiag.ts).
    holdDiag();
    const resolved = sayingHeldIfThrown(() => resolveExporterOptions(options));
    this.#schema = resolved.schema;
    this.#migrate = resolved.migrate;
    this.#exportTimeoutMillis = resolved.exportTimeoutMillis;
    this.#statements = new Statements(quoteSchema(resolved.schema));
    this.#ownsPool = resolved.pool === undefined;
    this.#connectWait = this.#ownsPool ? connectWaitText(resolved.connectionTimeoutMillis, resolved.exportTimeoutMillis, resolved.maxConnections) : undefined;
    // pg-pool keeps its options on the pool: the only way to name a caller's pool's server.
    const poolOptions = (resolved.pool as { options?: PoolFacts } | undefined)?.options ?? {};
    const connectionString = resolved.connectionString ?? poolOptions.connectionString;
    this.#target = describeTarget({ ...poolOptions, connectionString });
    this.destination = postgresDestination({ ...poolOptions, connectionString } as pg.ClientConfig, resolved.schema);
    this.#secrets = secretsOf({ connectionString, password: poolOptions.password });
    this.#pool = resolved.pool ?? this.#createPool(resolved);
    stopHoldingDiag();
  }

  /** exportBatch() takes the spans as a function that makes them, too (SpansAndLogs): it lets them go once they are rows. */
  readonly takesSpanMaker = true;

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.exportBatch({ spans, logs: [] }, resultCallback);
  }

  /**
   * Spans and log records in one transaction. A log record whose span the batch does not
   * carry, and which has no row yet, gets a `'started'` row for that span, so a log row is
   * never without its span's row; the span's own row replaces it later. But for a span not
   * sampled, which is never exported: its log rows keep its ids, with flags 0 (inSampledSpan).
   */
  exportBatch(batch: SpansAndLogs, resultCallback: (result: ExportResult) => void): void {
    if (this.#shutdown !== undefined) {
      const error = new PostgresExportError('PostgresSpanExporter is shut down; the batch was not written.', 'permanent', undefined);
      deliver(resultCallback, { code: ExportResultCode.FAILED, error });
      return;
    }
    // The exporter's own queries must never be traced: pg instrumentation would feed them
    // back into this exporter. The batch is handed over without a closure: the callbacks
    // below live until the transaction ends, and one that kept the batch would keep its
    // spans (made by a function: see SpansAndLogs) past their conversion to rows
    // (bench/overload.mjs: they reached the old generation).
    const work = context.with(suppressTracing(context.active()), this.#write, this, new BatchSource(batch.spans, batch.logs ?? [], batch.refused));
    this.#track(work);
    work.then(
      () => deliver(resultCallback, { code: ExportResultCode.SUCCESS }),
      (error: Error) => deliver(resultCallback, { code: ExportResultCode.FAILED, error }),
    );
  }

  /**
   * Resolves when every export started so far has committed or failed; not those started
   * meanwhile, which under steady load would keep it waiting for good.
   */
  async forceFlush(): Promise<void> {
    sayHeld();
    await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Waits for in-flight batches (each ends within exportTimeoutMillis), then ends the pool
   * if the exporter created it. A connection of that pool still being made gets
   * SHUTDOWN_CONNECT_GRACE_MILLIS more, then is given up (its batch fails as transient), so
   * a server that accepts and never answers does not keep the process alive until
   * connectionTimeoutMillis. Safe to call again.
   */
  shutdown(): Promise<void> {
    sayHeld();
    this.#shutdown ??= this.#close();
    return this.#shutdown;
  }

  async #close(): Promise<void> {
    if (this.#ownsPool) this.#connecting.limitConnectsTo(SHUTDOWN_CONNECT_GRACE_MILLIS);
    // No export starts once shut down: this drains every one.
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    if (!this.#ownsPool) return;
    try {
      await this.#pool.end();
    } catch (error) {
      safeDiag.warn(`PostgresSpanExporter: closing the pool failed: ${this.#redacted(error)}`);
    }
  }

  async #write(batch: BatchSource): Promise<void> {
    // Bound, the batch is its statements' parameters: the rows are let go before the round
    // trip, and made again only if PostgreSQL refuses records one by one (writeBatch).
    // Spans to rows to parameters on the turn's budget (shared by every batch in flight):
    // a batch of the default size is mostly done in the turn it started in, so neither its
    // spans nor its rows outlive that turn. Rows made again later (writeBatch) draw on the
    // budget of the turn they are made in.
    // The batch's time starts now: a resource detector still running may take at most half
    // of it (#rows), the write the rest.
    const deadline = performance.now() + this.#exportTimeoutMillis;
    const detectorsUntil = deadline - this.#exportTimeoutMillis / 2;
    const rowsAgain = (turn = new TurnBudget()) => this.#rows(batch.spans(), batch.logs, turn, new Unreadable(), detectorsUntil);
    const turn = new TurnBudget();
    const unreadable = new Unreadable();
    const statements = this.#statements;
    const bound = await bindRows(statements, await this.#rows(batch.spans(), batch.logs, turn, unreadable, detectorsUntil), turn);
    if (unreadable.count > 0) {
      safeDiag.error(`PostgresSpanExporter: ${unreadable.count} spans or log records could not be read: ${this.#redacted(unreadable.first)}`);
    }
    // Spans that could not be made rows at all (a getter of a hand-built span that throws)
    // go to dead_letters with the reason, in the batch's transaction: the journal commits
    // past them with it, and must not have lost them silently. One whose ids cannot be
    // read either is only said. A span the batch carries twice is one dead letter, counted once
    // (a review: 2 counted for the 1 row).
    const unreadableSpans = new Map(unreadable.spans.map((span) => [RefusedRows.keyOf(span.key.traceId, span.key.spanId), span]));
    const deadLetters = [
      ...[...unreadableSpans.values()].map(({ key, message }) => this.#statements.upsertDeadLetter(key.traceId, key.spanId, null, null, message)),
      ...unreadable.logs.map(({ key, message }) => this.#statements.upsertLogDeadLetter(key, null, null, message)),
    ];
    let refused: RefusedRows;
    try {
      refused = await this.#writeBound(bound, statements, rowsAgain, deadLetters, deadline);
    } finally {
      bound.arena.release();
    }
    if (deadLetters.length > 0) {
      this.deadLettered += deadLetters.length;
      safeDiag.warn(`PostgresSpanExporter: ${deadLetters.length} spans or log records that could not be read are in "${this.#schema}".dead_letters with the reason.`);
    }
    // Committed: the caller learns what of its batch is not in the tables (SpansAndLogs).
    // Bookkeeping: whatever it throws must not turn a committed batch into a failed one.
    try {
      for (const key of unreadableSpans.keys()) refused.spanKeys.add(key);
      refused.logRecords += unreadable.logs.length;
      batch.refused?.setTo({ spanPositions: refused.spanKeys.size === 0 ? [] : positionsOf(refused, batch.spans()), logRecords: refused.logRecords, spans: refused.spanKeys.size });
    } catch (error) {
      safeDiag.debug(`PostgresSpanExporter: could not tell the caller which records were refused: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /**
   * Commits the rows and `deadLetters`; what PostgreSQL refused goes to dead_letters too, and
   * is returned. `boundWith`: the statements `bound` was made with. Log records bound before
   * the schema was found to lack a column they name (migration 8: #useScopeAttributes) are bound
   * again, so the first batch of an exporter whose role may not migrate is written, not failed.
   */
  async #writeBound(bound: BoundRows, boundWith: Statements, rowsAgain: () => Promise<RowBatch>, deadLetters: readonly Statement[], deadline: number): Promise<RefusedRows> {
    const records = bound.spans + bound.logs;
    if (records === 0 && deadLetters.length === 0) return new RefusedRows();
    await this.#schemaBefore(deadline, bound.logs > 0);
    if (boundWith !== this.#statements && bound.logs > 0) {
      const statements = this.#statements;
      const again = await bindRows(statements, await rowsAgain(), new TurnBudget());
      try {
        return await this.#writeBound(again, statements, rowsAgain, deadLetters, deadline);
      } finally {
        again.arena.release();
      }
    }
    try {
      const refused = await writeBatch(this.#pool, this.#statements, bound, rowsAgain, { deadline, timeoutMillis: this.#exportTimeoutMillis }, deadLetters);
      const deadLettered = refused.count;
      if (deadLettered > 0) {
        this.deadLettered += deadLettered;
        safeDiag.warn(
          `PostgresSpanExporter: PostgreSQL refused ${deadLettered} of ${records} records; they are in "${this.#schema}".dead_letters with the error, and the rest were committed.`,
        );
      }
      return refused;
    } catch (error) {
      // The schema lacks logs.scope_attributes, which could not be told before (a role that
      // may not read `migrations`, with migrate: false; a dump without the column): the
      // batch is written again at once without it. Before, every batch with a log record
      // failed for good, spans and all (a review).
      // By what the batch was bound with: batches in flight together, bound before the first
      // of them switched, failed one after another, and reset the schema to be switched back
      // (a review: 3 of 4 concurrent batches failing for 45 s).
      if (bound.logs > 0 && boundWith.scopeAttributes && lacksScopeAttributes(error)) {
        if (this.#statements.scopeAttributes) this.#lookAgainLater();
        this.#useScopeAttributes(false);
        this.#sayNoScopeColumn();
        return this.#writeBound(bound, boundWith, rowsAgain, deadLetters, deadline);
      }
      // The schema dropped (or restored from an older dump) while the application runs:
      // migrated again before the next batch. Before, the state of the first migration was
      // kept, and every batch failed until a restart.
      // With migrate: false, looked at again (#lookAtSchema): what it lacks is written without.
      if (meansSchemaOutOfDate(sqlStateOf(error))) this.#schemaReady = undefined;
      throw this.#failure(`write ${describeCount(bound)} to ${this.#target}`, error);
    }
  }

  async #rows(spans: ReadableSpan[], logs: KeyedLogRecord[], turn: TurnBudget, unreadable: Unreadable, detectorsUntil: number): Promise<RowBatch> {
    await this.#detectorsSettled([...spans.map(resourceOf), ...logs.map((log) => resourceOf(log.logRecord))], detectorsUntil);
    const converter = new SpanRowConverter();
    const spanRows: SpanRow[] = [];
    const logRows: LogRow[] = [];
    // Within the turn's budget: a 2048-span batch converted in one go kept the host's
    // event loop for ~10 ms (bench/recovery.mjs, which measures the stall). The spans are
    // let go of as soon as they are rows (the batch came in a Handover).
    await unreadable.convertAll(spans, (span) => converter.toRow(span), spanRows, turn, idsOf, unreadable.spans, 'span');
    await unreadable.convertAll(logs, (log) => toLogRow(log, converter), logRows, turn, logKeyOf, unreadable.logs, 'log record');
    return { spans: mergeSpanRows(spanRows), logs: logRows };
  }

  /**
   * Resource detectors may still be running; their attributes belong in the rows. One that
   * fails leaves the attributes it has, and the rows are written with those; so does one
   * that has not settled by `until` (a metadata endpoint that never answers): it must not
   * hold every batch, nor forceFlush() and shutdown(), for good. Such a resource is not
   * waited for again, and is said once.
   */
  async #detectorsSettled(resources: (ReadableSpan['resource'] | undefined)[], until: number): Promise<void> {
    const pending = [...new Set(resources)].filter((resource): resource is ReadableSpan['resource'] => resource !== undefined && isPending(resource) && !this.#givenUpOn.has(resource));
    if (pending.length === 0) return;
    // Resources made from one whose detector hangs (a resource per tenant or job, merged
    // onto the host's) hang with it: each new one held its first batch for half the export
    // timeout, and export fell to 68 spans/s (a review of growth with user data).
    if (this.#detectorsHung) until = Math.min(until, performance.now() + HUNG_DETECTORS_GRACE_MILLIS);
    const settled = Promise.all(pending.map((resource) => Promise.resolve().then(() => resource.waitForAsyncAttributes?.()).catch(() => {})));
    try {
      await beforeDeadline(settled, until, () => new Error('resource detectors still running'));
    } catch {
      const stuck = pending.filter(isPending);
      for (const resource of stuck) this.#givenUpOn.add(resource);
      if (stuck.length > 0 && !this.#detectorsHung) {
        this.#detectorsHung = true;
        safeDiag.warn(
          `PostgresSpanExporter: ${stuck.length} resource(s) still had detectors running after half of exportTimeoutMillis (${this.#exportTimeoutMillis} ms); ` +
            `their spans and log records are written with the attributes detected so far; later batches do not wait for them, nor more than ${HUNG_DETECTORS_GRACE_MILLIS} ms for a new resource's.`,
        );
      }
    }
  }

  /**
   * The schema ready before `deadline`, or a failure then: a migration may wait for another
   * process's (it holds the lock for as long as its DDL takes), and an export must never
   * outlive exportTimeoutMillis, nor keep forceFlush() and shutdown() waiting. The
   * migration itself waits at most as long for its locks, then fails, to be tried again.
   */
  #schemaBefore(deadline: number, hasLogs: boolean): Promise<void> {
    // migrate: false looks only for what log rows write (#lookAtSchema), and never holds a
    // batch back: one it has not seen by the deadline goes on as the schema was thought to be.
    if (!this.#migrate) return hasLogs ? beforeDeadline(this.#ensureSchema(), deadline, () => new Error('late')).catch(() => {}) : Promise.resolve();
    // Which of them is not known here: the connection was left out, and a server that accepts and never answers was called a long reader (a review).
    const late = new Error(
      `not done within exportTimeoutMillis (${this.#exportTimeoutMillis} ms): the migration waits for a connection the server has not completed (a server that does not answer), ` +
        `for a table another session holds (a long reader), or for another process's migration of the schema`,
    );
    return beforeDeadline(this.#ensureSchema(), deadline, () => this.#failure(`migrate schema "${this.#schema}" in ${this.#target}`, late));
  }

  #ensureSchema(): Promise<void> {
    // A migration deferred, or missing with migrate: false: looked at again from time to
    // time. Once seen lacking, migration 8's column was never written again by a process,
    // though the owner migrated, or the lock that held it off went (a review).
    if (this.#lookAgainAt !== undefined && performance.now() >= this.#lookAgainAt) {
      this.#lookAgainAt = undefined;
      this.#schemaReady = undefined;
    }
    if (!this.#migrate) return (this.#schemaReady ??= this.#lookAtSchema());
    if (this.#schemaReady === undefined) {
      const refusal = this.#schemaRetry.refusal(this.#schema);
      if (refusal !== undefined) return Promise.reject(refusal);
    }
    this.#schemaReady ??= applyMigrations(this.#pool, this.#schema, { lockTimeoutMillis: this.#exportTimeoutMillis }, { optionalLockWaitMillis: OPTIONAL_LOCK_WAIT_MILLIS }).then(
      async ({ applied, deferred }) => {
        this.#schemaRetry.succeeded();
        if (applied.length > 0) safeDiag.info(`PostgresSpanExporter: applied migrations ${applied.join(', ')} to schema "${this.#schema}".`);
        const present = (await this.#scopeColumnPresent()) ?? !deferred.some(({ version }) => version === LOG_SCOPE_ATTRIBUTES_MIGRATION);
        this.#useScopeAttributes(present);
        if (deferred.length === 0 && present) return void (this.#lookAgainMillis = LOOK_AGAIN_FIRST_MILLIS);
        this.#lookAgainLater();
        if (deferred.length > 0 && !this.#saidMissing) this.#sayDeferred(deferred);
        if (deferred.length > 0) this.#saidMissing = true;
      },
      (error: unknown) => {
        this.#schemaReady = undefined; // a later batch tries again
        const failure = this.#failure(`migrate schema "${this.#schema}" in ${this.#target}`, error, { migrating: true });
        if (!(error instanceof MigrationUnderWayError)) this.#schemaRetry.failed(failure, failedToConnect(error));
        throw failure;
      },
    );
    return this.#schemaReady;
  }

  /**
   * `migrate: false`: the exporter applies nothing, but writes only what the schema has
   * (migration 8's column, as the catalog says), and says once what it lacks; looked at
   * again later while it lacks something (#lookAgainLater), not with every batch.
   */
  async #lookAtSchema(): Promise<void> {
    const present = await this.#scopeColumnPresent();
    if (present !== undefined) this.#useScopeAttributes(present);
    let missing: { version: number; name: string }[] = [];
    try {
      missing = await missingMigrations(this.#pool, this.#schema);
    } catch {
      // A role that may not read `migrations`: the catalog said whether the column is there.
    }
    if (missing.length > 0 || present === false) this.#lookAgainLater();
    if (missing.length > 0 && !this.#saidMissing) {
      this.#saidMissing = true;
      const names = missing.map(({ version, name }) => `${version} (${name})`).join(', ');
      safeDiag.warn(
        `PostgresSpanExporter: schema "${this.#schema}" in ${this.#target} lacks migration ${names}, and the exporter has migrate: false; ` +
          `${this.#withoutNote(missing.map(({ version }) => version))}. Run \`npx otel-blackbox migrate --schema ${this.#schema}\` (docs/postgres-exporter.md, "Schema").`,
      );
    }
    // `migrations` unread (a role that may not), the catalog told.
    if (present === false) this.#sayNoScopeColumn();
  }

  /** Said once per exporter, unless what the schema lacks was said already. */
  #sayNoScopeColumn(): void {
    if (this.#saidMissing) return;
    this.#saidMissing = true;
    safeDiag.warn(
      `PostgresSpanExporter: schema "${this.#schema}" in ${this.#target} has no logs.scope_attributes (migration 8); log records are written without their scope attributes. ` +
        `Run \`npx otel-blackbox migrate --schema ${this.#schema}\` (docs/postgres-exporter.md, "Schema").`,
    );
  }

  /** The schema looked at again after a while, and less often each time it still lacks what it lacked. */
  #lookAgainLater(): void {
    this.#lookAgainAt = performance.now() + this.#lookAgainMillis;
    this.#lookAgainMillis = Math.min(this.#lookAgainMillis * 2, LOOK_AGAIN_CAP_MILLIS);
  }

  /** Log rows with scope_attributes, or without where the schema lacks the column (migration 8). */
  #useScopeAttributes(scopeAttributes: boolean): void {
    if (scopeAttributes !== this.#statements.scopeAttributes) this.#statements = new Statements(quoteSchema(this.#schema), { scopeAttributes });
  }

  /** Whether `logs.scope_attributes` is there (hasScopeAttributesColumn); undefined where the catalog cannot be read. */
  async #scopeColumnPresent(): Promise<boolean | undefined> {
    try {
      return await hasScopeAttributesColumn(this.#pool, quoteSchema(this.#schema));
    } catch {
      return undefined;
    }
  }

  #withoutNote(missing: readonly number[]): string {
    return missing.includes(LOG_SCOPE_ATTRIBUTES_MIGRATION)
      ? 'spans are written to it as it is, log records without their scope attributes'
      : 'spans are written to it as it is';
  }

  /**
   * Migrations this code writes as well without that could not be applied: a role that may
   * not change the schema (42501), a statement_timeout shorter than building an index, a
   * table lock not had in time. Said once per exporter; tried again later (#lookAgainLater).
   */
  #sayDeferred(deferred: readonly DeferredMigration[]): void {
    const names = deferred.map(({ version, name }) => `${version} (${name})`).join(', ');
    const states = deferred.map(({ error }) => sqlStateOf(error));
    const notOwner = states.every((state) => state === SQLSTATE.INSUFFICIENT_PRIVILEGE);
    const timedOut = states.includes(SQLSTATE.QUERY_CANCELED)
      ? ` A statement_timeout cancelled it: give that command's session a longer one (PGOPTIONS='-c statement_timeout=0').`
      : '';
    safeDiag.warn(
      `PostgresSpanExporter: schema "${this.#schema}" in ${this.#target} lacks migration ${names}, which ${notOwner ? 'the role may not migrate' : 'could not be applied'} (${this.#redacted(deferred[0]!.error)}); ` +
        `${this.#withoutNote(deferred.map(({ version }) => version))}. Run \`npx otel-blackbox migrate --schema ${this.#schema}\`${notOwner ? " as the schema's owner" : ''} (docs/postgres-exporter.md, "Schema"), or give the exporter migrate: false.${timedOut}`,
    );
  }

  #failure(action: string, error: unknown, { migrating = false } = {}): PostgresExportError {
    const cause = withoutSecrets(this.#connectWait === undefined ? error : namingConnectWait(error, this.#connectWait), this.#secrets);
    const failure = exportError({ action, schema: this.#schema, cause, migrates: this.#migrate, migrating });
    failure.message = redact(failure.message, this.#secrets);
    safeDiag.debug(failure.message);
    return failure;
  }

  #createPool(resolved: ReturnType<typeof resolveExporterOptions>): pg.Pool {
    const pool = new pg.Pool({
      connectionString: resolved.connectionString,
      max: resolved.maxConnections,
      application_name: resolved.applicationName,
      connectionTimeoutMillis: connectWaitMillis(resolved.connectionTimeoutMillis, resolved.exportTimeoutMillis),
      // Telemetry must not keep a finished application alive.
      allowExitOnIdle: true,
      // Its connects followed, for shutdown (ConnectingClients.ts).
      Client: this.#connecting.Client,
      // Notice a silently dropped connection (a NAT timeout, a failover) instead of waiting on it.
      keepAlive: true,
    });
    // Without a listener, an idle connection dropped by the server crashes the process. Said
    // once per IDLE_FAILURE_NOTICE_MILLIS: behind a server's idle_session_timeout (or a
    // pooler's idle timeout) every idle connection ends so, and was a warning a second.
    let saidAt = -Infinity;
    let unsaid = 0;
    pool.on('error', (error) => {
      const now = performance.now();
      if (now - saidAt < IDLE_FAILURE_NOTICE_MILLIS) {
        unsaid += 1;
        return;
      }
      const since = unsaid > 0 ? ` (and ${unsaid} more since the last such line)` : '';
      saidAt = now;
      unsaid = 0;
      safeDiag.warn(`PostgresSpanExporter: an idle connection to ${this.#target} failed${since}: ${this.#redacted(error)}`);
    });
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

/**
 * How long the exporter's own pool waits for a connection: connectionTimeoutMillis, never
 * longer than a batch may take (0, no limit of its own, still ends there), after which
 * pg-pool destroys the half-open socket of a server that never answered.
 */
function connectWaitMillis(connectionTimeoutMillis: number, exportTimeoutMillis: number): number {
  return Math.min(connectionTimeoutMillis || Number.POSITIVE_INFINITY, exportTimeoutMillis);
}

function connectWaitText(connectionTimeoutMillis: number, exportTimeoutMillis: number, maxConnections: number): ConnectWait {
  const millis = connectWaitMillis(connectionTimeoutMillis, exportTimeoutMillis);
  const within = `no connection within ${millis} ms, ${millis === connectionTimeoutMillis ? 'connectionTimeoutMillis' : 'exportTimeoutMillis'}`;
  return { server: `${within}: the server did not answer in time`, pool: `${within}: the server did not answer in time, or all ${maxConnections} of maxConnections were busy` };
}

/** What a connect timeout says, by pg's words: the client's own (the server), pg-pool's (the server, or a full pool). */
interface ConnectWait {
  server: string;
  pool: string;
}

/**
 * A connect timeout says which wait it was: pg's message names neither the time nor the
 * setting, and a CLI run with PGCONNECT_TIMEOUT could not tell whether it was read.
 * pg-pool's words also come when every connection was busy that long. The message keeps
 * pg's words first: the error is still classified by them (transient).
 */
function namingConnectWait(error: unknown, wait: ConnectWait): unknown {
  if (!(error instanceof Error)) return error;
  const said = error.message.startsWith('Connection terminated due to connection timeout')
    ? wait.server
    : error.message.startsWith('timeout exceeded when trying to connect')
      ? wait.pool
      : undefined;
  return said === undefined ? error : new Error(`${error.message} (${said})`, { cause: error });
}

/** Calls the exporter's caller back exactly once; a throwing callback is not our failure. */
function deliver(resultCallback: (result: ExportResult) => void, result: ExportResult): void {
  try {
    resultCallback(result);
  } catch (error) {
    globalErrorHandler(error as Error);
  }
}

/** A batch's spans, as given or made anew on each call (SpansAndLogs), and its log records. */
class BatchSource {
  readonly #spans: SpansAndLogs['spans'];
  readonly logs: KeyedLogRecord[];
  readonly refused: RefusedRecords | undefined;

  constructor(spans: SpansAndLogs['spans'], logs: KeyedLogRecord[], refused: RefusedRecords | undefined) {
    this.#spans = spans;
    this.logs = logs;
    this.refused = refused;
  }

  spans(): ReadableSpan[] {
    return typeof this.#spans === 'function' ? this.#spans() : this.#spans;
  }
}

/** Converts records to rows; one that cannot be converted is skipped and counted, and the first error kept for the report. */
/** Records that could not be made rows; the spans among them whose ids can be read, with the reason. */
class Unreadable {
  count = 0;
  first: unknown;
  /** Records that could not be made rows but whose keys could be read: dead-lettered with the reason. */
  readonly spans: { key: SpanIds; message: string }[] = [];
  readonly logs: { key: LogKey; message: string }[] = [];

  /** Every item into `into`, looking at the turn's budget every CONVERT_SLICE items. */
  async convertAll<S, T, K>(
    items: readonly S[],
    convert: (item: S) => T,
    into: T[],
    turn: TurnBudget,
    keyOf: (item: S) => K | undefined,
    refused: { key: K; message: string }[],
    what: string,
  ): Promise<void> {
    for (let i = 0; i < items.length; i++) {
      if (i % CONVERT_SLICE === 0) {
        const wait = turn.pace();
        if (wait) await wait;
      }
      try {
        into.push(convert(items[i]));
      } catch (error) {
        if (this.count === 0) this.first = error;
        this.count++;
        const key = keyOf(items[i]);
        // Capped and sanitised as any text we store: a NUL in it would refuse the whole transaction.
        const message = sanitizeString(`the ${what} could not be read: ${(error as Error)?.message ?? String(error)}`).slice(0, MAX_REASON_CHARS);
        if (key) refused.push({ key, message });
      }
    }
  }
}

type SpanIds = { traceId: string; spanId: string };

/**
 * The positions in the batch's `spans` of the refused ones, keyed as the database keys them
 * (sanitised, lower-cased, cut when too long: keyId), which is not how the caller knows
 * them. Made anew only for a batch with refused spans.
 */
function positionsOf(refused: RefusedRows, spans: readonly ReadableSpan[]): number[] {
  const positions: number[] = [];
  spans.forEach((span, position) => {
    const ids = idsOf(span);
    if (ids !== undefined && refused.spanKeys.has(RefusedRows.keyOf(ids.traceId, ids.spanId))) positions.push(position);
  });
  return positions;
}

const MAX_REASON_CHARS = 4096;

/** A span's ids as the database keys them, when they can be read. */
function idsOf(span: ReadableSpan): SpanIds | undefined {
  try {
    const { traceId, spanId } = span.spanContext();
    return typeof traceId === 'string' && typeof spanId === 'string' && traceId !== '' && spanId !== '' ? { traceId: keyId(traceId), spanId: keyId(spanId) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A schema that lacks a migration this code writes as well without is looked at again this
 * long after, doubling each time up to LOOK_AGAIN_CAP_MILLIS: with `migrate`, the migration
 * is tried again then (a table's lock waited for OPTIONAL_LOCK_WAIT_MILLIS at most, a
 * role's refusal at once).
 */
const LOOK_AGAIN_FIRST_MILLIS = 10_000;
const LOOK_AGAIN_CAP_MILLIS = 15 * 60_000;
/**
 * How long the exporter waits for a table's lock to apply a migration it writes as well
 * without. Writers of every process queue behind a waiting ACCESS EXCLUSIVE request: at 3 s,
 * each look again held every batch behind a long reader for 3 s, and four exporters'
 * first batches outlived their deadline (a review). Long enough for batches under way to
 * commit; `otel-blackbox migrate` waits its --lock-wait.
 */
const OPTIONAL_LOCK_WAIT_MILLIS = 500;

/** How long a new resource's detectors are waited for once another's hung (see #detectorsSettled). */
const HUNG_DETECTORS_GRACE_MILLIS = 250;

/** A record's resource, or undefined when it cannot be read (its conversion says why, below). */
function resourceOf(record: { resource?: ReadableSpan['resource'] } | undefined): ReadableSpan['resource'] | undefined {
  try {
    return record?.resource;
  } catch {
    return undefined;
  }
}

function isPending(resource: ReadableSpan['resource']): boolean {
  try {
    return resource.asyncAttributesPending === true;
  } catch {
    return false;
  }
}

/** A log record's key as the journal gave it (never the record's own fields: those may be what failed). */
function logKeyOf(log: KeyedLogRecord): LogKey | undefined {
  return typeof log.writerId === 'string' && Number.isSafeInteger(log.sequence)
    ? { writerId: sanitizeString(log.writerId), sequence: log.sequence, traceId: null, spanId: null }
    : undefined;
}

function describeCount({ spans, logs }: { spans: number; logs: number }): string {
  return logs === 0 ? `${spans} spans` : `${spans} spans and ${logs} log records`;
}
