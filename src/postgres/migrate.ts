// Versioned migrations, applied in one transaction under a transaction-level advisory
// lock. A session lock would not survive PgBouncer's transaction pooling (the unlock can
// land on another server connection); `pg_advisory_xact_lock` is released by COMMIT or
// ROLLBACK wherever they run. Concurrent installers queue on the lock, and each finds the
// work done by the one before. The bootstrap (schema and migrations table) runs once, by
// the runner, before any migration; migrations never repeat it. A schema that is newer
// than this code is refused, as graphile-worker does: running old code against it could
// write rows the newer code does not expect.
import type pg from 'pg';
import { bootstrapSql } from './migrations/bootstrap.js';
import * as initial from './migrations/0001_initial.js';
import * as logRecords from './migrations/0002_log_records.js';
import * as leanSpanIndexes from './migrations/0003_lean_span_indexes.js';
import * as traceRootEnded from './migrations/0004_trace_root_ended.js';
import * as parentRemoteSchemaUrls from './migrations/0005_parent_remote_schema_urls.js';
import * as traceLocalRoot from './migrations/0006_trace_local_root.js';
import * as replicaIdentity from './migrations/0007_replica_identity.js';
import * as logScopeAttributes from './migrations/0008_log_scope_attributes.js';
import * as errorSpansIndex from './migrations/0009_error_spans_index.js';
import * as logsOutsideSpansIndex from './migrations/0010_logs_outside_spans_index.js';
import * as crashesByEndIndex from './migrations/0011_crashes_by_end_index.js';
import { quoteSchema, type QuotedSchema } from './schemaName.js';
import { InvalidOptionError, knownOptionsOnly, millis, validPool } from '../options/validate.js';
import { SQLSTATE, sqlStateOf } from './sqlState.js';

interface Migration {
  version: number;
  name: string;
  sql(schema: QuotedSchema): string;
  /** The data tables (DATA_TABLES) it alters or indexes: locked before any migration runs (lockDataTables). */
  tables: readonly string[];
  /**
   * The oldest schema version whose code may go on writing after this migration: its own
   * version when older code would write wrongly (the default), lower when the migration
   * only adds what older code can ignore or drops what it does not use. Recorded in
   * `migrations.oldest_writer`, so code that does not know this migration still knows
   * whether it may write.
   */
  oldestWriter?: number;
  /**
   * false: this code writes as well to a schema without it (migration 7: only a
   * publication needs it; 9 and 10: indexes for the viewer; 8: a column written where it
   * is), so it is applied in a transaction of its own, and an exporter that could not
   * apply it (a role that may not, a statement_timeout) writes on (applyMigrations). Default true.
   */
  neededToWrite?: boolean;
}

/** In order of version; add a migration by importing its module and appending it here. */
const MIGRATIONS: readonly Migration[] = [initial, logRecords, leanSpanIndexes, traceRootEnded, parentRemoteSchemaUrls, traceLocalRoot, replicaIdentity, logScopeAttributes, errorSpansIndex, logsOutsideSpansIndex, crashesByEndIndex];
const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

export class SchemaTooNewError extends Error {
  /** `refusing`: what this version will not do there (write to it, prune it). */
  constructor(schema: string, databaseVersion: number, refusing = 'write to it') {
    super(
      `Schema "${schema}" is at migration version ${databaseVersion}, but this otel-blackbox knows migrations up to version ${LATEST_VERSION}: ` +
        `a newer otel-blackbox has upgraded it. Upgrade otel-blackbox here too (or use another schema); refusing to ${refusing}.`,
    );
    this.name = 'SchemaTooNewError';
  }
}

export class ForeignMigrationsTableError extends Error {
  constructor(schema: string) {
    super(
      `Schema "${schema}" holds a table named migrations that is not otel-blackbox's (it lacks our version, name and applied_at columns): ` +
        'another tool keeps its migrations there. Give otel-blackbox a schema of its own (the schema option, OTEL_BLACKBOX_SCHEMA or --schema); refusing to touch it.',
    );
    this.name = 'ForeignMigrationsTableError';
  }
}

export class MissingTableError extends Error {
  constructor(schema: string, tables: string[]) {
    super(
      `Schema "${schema}" lists every migration as applied, but its table${tables.length > 1 ? 's' : ''} ${tables.join(', ')} ${tables.length > 1 ? 'are' : 'is'} missing ` +
        '(dropped by hand, or a partial restore). Restore it, or drop the schema to have it made again; the spans wait in the journal meanwhile.',
    );
    this.name = 'MissingTableError';
  }
}

/**
 * Another process's migration of the schema held its lock past `lockTimeoutMillis`. Ours
 * changed nothing and waited on no table, so no writer of the tables waited behind it: a
 * failure of its own, which the exporter tries again at its next batch without backing off
 * (SchemaRetry backs off after a wait for the tables' locks). 55P03, as PostgreSQL said.
 */
export class MigrationUnderWayError extends Error {
  readonly code = SQLSTATE.LOCK_NOT_AVAILABLE;

  /** `waitedMillis`: undefined when the session's own lock_timeout (a role's setting) ended the wait. */
  constructor(schema: string, waitedMillis: number | undefined, cause: unknown) {
    const within = waitedMillis === undefined ? "the session's lock_timeout" : `${waitedMillis} ms`;
    super(`another process is migrating schema "${schema}": its migration lock was not free within ${within}; nothing was changed`, { cause });
    this.name = 'MigrationUnderWayError';
  }
}

/** The tables every batch writes, in the order a batch locks them. */
const DATA_TABLES = ['traces', 'spans', 'logs', 'dead_letters'];

// Two-key advisory locks: this constant ('otbb') keeps ours apart from the application's.
const LOCK_NAMESPACE = 0x6f746262;

/** The SQL the runner executes before any migration (idempotent), for a dry run. */
export function bootstrapStatement(schema: string): string {
  return bootstrapSql(quoteSchema(schema));
}

/** The SQL each migration would run, in order: for a dry run or a DBA's review. */
export function migrationStatements(schema: string): { version: number; name: string; sql: string }[] {
  const quoted = quoteSchema(schema);
  return MIGRATIONS.map((m) => ({ version: m.version, name: m.name, sql: m.sql(quoted) }));
}

/** The advisory lock every migration of `schema` runs under, as SQL (literals: the same in the runner and the script). */
function lockSql(schema: string): string {
  return `SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${lockKey(schema)});`;
}

/** The `migrations` row of a migration applied (names are ours: plain identifiers). */
function recordSql(quoted: QuotedSchema, m: Migration): string {
  return `INSERT INTO ${quoted}.migrations (version, name) VALUES (${m.version}, '${m.name}');`;
}

/** Records each migration's oldest writer (the column comes with migration 4). */
function oldestWritersSql(quoted: QuotedSchema): string {
  const values = MIGRATIONS.map((m) => `(${m.version}, ${m.oldestWriter ?? m.version})`).join(', ');
  return `UPDATE ${quoted}.migrations AS m SET oldest_writer = v.oldest FROM (VALUES ${values}) AS v(version, oldest)
 WHERE m.version = v.version AND m.oldest_writer IS DISTINCT FROM v.oldest;`;
}

/**
 * Every migration as one script a DBA can review and apply to a new schema by hand (psql
 * -f): the runner's transaction, lock and `migrations` rows included, so that
 * `otel-blackbox migrate` and the exporter find it up to date afterwards. A schema that
 * holds some migrations already is upgraded by `otel-blackbox migrate`, which applies
 * only those missing.
 */
export function migrationScript(schema: string): string {
  const quoted = quoteSchema(schema);
  const parts = [
    `-- otel-blackbox migrations 1 to ${LATEST_VERSION} for a new schema ${quoted}, in one transaction.`,
    `-- A schema that has some of them already: run \`otel-blackbox migrate\`, which applies only the missing ones.`,
    'BEGIN;',
    lockSql(schema),
    `-- bootstrap\n${bootstrapSql(quoted).trim()}`,
  ];
  for (const m of MIGRATIONS) parts.push(`-- migration ${m.version}: ${m.name}\n${m.sql(quoted).trim()}`, recordSql(quoted, m));
  parts.push(oldestWritersSql(quoted));
  parts.push('COMMIT;');
  return `${parts.join('\n')}\n`;
}

/**
 * How long a migration's DDL waits for a table lock. A session reading the table (a long
 * report, the viewer) holds it off, and every writer that comes after queues behind the
 * waiting DDL: behind an unbounded wait, every exporter of the database stalled for as long
 * as that reader lived. Past this the migration fails (55P03, lock_not_available), nothing
 * changed, to be tried again: by the exporter's next batch, or the operator.
 */
export const TABLE_LOCK_WAIT_MILLIS = 3000;

export interface MigrateSchemaOptions {
  /**
   * How long to wait for another process's migration of the same schema before failing
   * (to be tried again). Default: no limit.
   */
  lockTimeoutMillis?: number | undefined;
  /**
   * How long a migration's DDL waits for a table lock another session holds (a long
   * report, the viewer) before failing with nothing changed (SQLSTATE 55P03). Default:
   * TABLE_LOCK_WAIT_MILLIS (3000), or `lockTimeoutMillis` when that is less.
   */
  tableLockWaitMillis?: number | undefined;
}

const MIGRATE_OPTION_NAMES = Object.keys({ lockTimeoutMillis: 1, tableLockWaitMillis: 1 } satisfies Record<keyof MigrateSchemaOptions, 1>);

const connectFailures = new WeakSet<object>();

function connectFailed(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) connectFailures.add(error);
  return error;
}

/**
 * Whether migrateSchema failed before it had a connection: the database refused it (not
 * accepting connections, a missing database, a role's password), or none could be made.
 * No migration asked for a lock then (SchemaRetry.ts).
 */
export function failedToConnect(error: unknown): boolean {
  return typeof error === 'object' && error !== null && connectFailures.has(error);
}

/** A migration this code writes as well without (neededToWrite: false) that was not applied, and why. */
export interface DeferredMigration {
  version: number;
  name: string;
  /** The data tables it alters. */
  tables: readonly string[];
  /** Its failure, or the one that kept it from being tried (applyMigrations). */
  error: unknown;
}

const neededToWrite = (migration: Migration): boolean => migration.neededToWrite !== false;

/**
 * Creates or upgrades `schema` (what `otel-blackbox migrate` and the exporter's `migrate`
 * option do), through a connection of `pool`, which stays yours; safe to run again and
 * from many processes at once. Resolves to the versions it applied (none: up to date).
 * Options it cannot use reject with InvalidOptionError before it connects. Where one of
 * the migrations a writer does without could not be applied, the others are, and it
 * rejects with MigrationsIncompleteError, which names both.
 */
export async function migrateSchema(pool: pg.Pool, schema: string, options: MigrateSchemaOptions = {}): Promise<{ applied: number[] }> {
  const { applied, deferred } = await applyMigrations(pool, schema, options);
  if (deferred.length > 0) throw new MigrationsIncompleteError(schema, applied, deferred);
  return { applied };
}

/**
 * Some migrations were applied and others not: each of those a writer does without is
 * applied in a transaction of its own, and one that fails (a table lock a long reader
 * holds, a statement_timeout shorter than building an index, a role that may not) leaves
 * the others applied. The message says each failure once, with the migrations it kept
 * back; `code` and `cause` are the first failure's, `failed` holds each migration's.
 */
export class MigrationsIncompleteError extends Error {
  readonly code: string | undefined;
  readonly applied: readonly number[];
  readonly failed: readonly DeferredMigration[];

  constructor(schema: string, applied: readonly number[], failed: readonly DeferredMigration[]) {
    const first = failed[0]!.error;
    // Each failure once, with the migrations it kept back: a statement_timeout on one index
    // and a lock on another table are two things to mend, and the first alone was said.
    const byReason = new Map<string, string[]>();
    for (const { version, name, error } of failed) {
      // Not the cause's own "nothing was changed", where something was.
      const why = error instanceof MigrationUnderWayError ? `another process is migrating schema "${schema}"` : ((error as Error)?.message ?? String(error));
      byReason.set(why, [...(byReason.get(why) ?? []), `${version} (${name})`]);
    }
    const clauses = [...byReason].map(([why, names]) => `migration ${names.join(', ')} not applied: ${why}`);
    super(`schema "${schema}": ${applied.length === 0 ? 'no migration applied' : `applied migrations ${applied.join(', ')}`}; ${clauses.join('; ')}`, { cause: first });
    this.name = 'MigrationsIncompleteError';
    this.code = sqlStateOf(first);
    this.applied = applied;
    this.failed = failed;
  }
}

/**
 * @internal migrateSchema without the throw, for the exporter, which writes on without what
 * it does without. The migrations a writer of this code needs are applied in one
 * transaction, with the bootstrap; each of the others (an index, a column it writes only
 * where the schema has it) in one of its own, after them. One of those failed with the
 * rest: a statement_timeout shorter than building an index (or a role that may not change
 * the schema) kept back the column a writer needs, the schema stayed as it was, and the new
 * code wrote nothing (an attack: 0 of 1,200 spans). A failure of one is given back in
 * `deferred`, with the migrations not tried after it: those on a table whose lock was not
 * had (each would wait as long again: four waits of 3 s outlived a first batch's deadline,
 * a review), and all of them once another process's migration holds the schema's lock.
 * `optionalLockWaitMillis`: how long those wait for a table lock, at most.
 */
export async function applyMigrations(
  pool: pg.Pool,
  schema: string,
  options: MigrateSchemaOptions,
  { optionalLockWaitMillis }: { optionalLockWaitMillis?: number } = {},
): Promise<{ applied: number[]; deferred: DeferredMigration[] }> {
  validPool(pool);
  const quoted = quoteSchema(schema);
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  knownOptionsOnly('migrateSchema', options, MIGRATE_OPTION_NAMES);
  millis('lockTimeoutMillis', options.lockTimeoutMillis, 0, 1);
  millis('tableLockWaitMillis', options.tableLockWaitMillis, 0, 1);
  const client = await pool.connect().catch((error: unknown) => {
    throw connectFailed(error);
  });
  const connection: Connection = { client, broken: undefined };
  const onError = (error: Error) => (connection.broken = error);
  client.on('error', onError);
  try {
    const pending = await pendingNow(client, schema, quoted, options.lockTimeoutMillis);
    const applied = pending.some(neededToWrite) ? await inMigration(connection, schema, quoted, options, { bootstrap: true, takes: neededToWrite }) : [];
    const deferred: DeferredMigration[] = [];
    const lockedOut = new Set<string>();
    let underWay: unknown;
    for (const migration of pending.filter((m) => !neededToWrite(m))) {
      const notTried = underWay ?? deferred.find(({ tables }) => tables.some((table) => migration.tables.includes(table) && lockedOut.has(table)))?.error;
      if (notTried !== undefined) {
        deferred.push({ version: migration.version, name: migration.name, tables: migration.tables, error: notTried });
        continue;
      }
      try {
        const waiting = { ...options, tableLockWaitMillis: Math.min(options.tableLockWaitMillis ?? TABLE_LOCK_WAIT_MILLIS, optionalLockWaitMillis ?? Infinity) };
        applied.push(...(await inMigration(connection, schema, quoted, waiting, { bootstrap: false, takes: (m) => m === migration })));
      } catch (error) {
        if (connection.broken !== undefined) throw error;
        deferred.push({ version: migration.version, name: migration.name, tables: migration.tables, error });
        if (error instanceof MigrationUnderWayError) underWay = error;
        else if (sqlStateOf(error) === SQLSTATE.LOCK_NOT_AVAILABLE) for (const table of migration.tables) lockedOut.add(table);
      }
    }
    return { applied, deferred };
  } finally {
    client.off('error', onError);
    client.release(connection.broken);
  }
}

interface Connection {
  client: pg.PoolClient;
  /** Set when the connection failed: released destroyed, not given back to the pool. */
  broken: Error | undefined;
}

/**
 * One transaction under the schema's migration lock: the migrations `takes` keeps of those
 * still pending once the lock is held (another process may have applied them meanwhile),
 * the bootstrap first where asked. Resolves to the versions applied.
 */
async function inMigration(
  connection: Connection,
  schema: string,
  quoted: QuotedSchema,
  options: MigrateSchemaOptions,
  { bootstrap, takes }: { bootstrap: boolean; takes: (migration: Migration) => boolean },
): Promise<number[]> {
  const { client } = connection;
  await client.query('BEGIN');
  try {
    if (options.lockTimeoutMillis !== undefined) await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMillis))}`);
    await client.query(lockSql(schema)).catch((error: unknown) => {
      throw sqlStateOf(error) === SQLSTATE.LOCK_NOT_AVAILABLE ? new MigrationUnderWayError(schema, options.lockTimeoutMillis, error) : error;
    });
    const tableLockWait = Math.max(1, Math.floor(Math.min(options.tableLockWaitMillis ?? TABLE_LOCK_WAIT_MILLIS, options.lockTimeoutMillis ?? Infinity)));
    await client.query(`SET LOCAL lock_timeout = ${tableLockWait}`);
    if (bootstrap) {
      const schemaExists = ((await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount ?? 0) > 0;
      await client.query(bootstrapSql(quoted, { createSchema: !schemaExists }));
    }
    const pending = (await pendingMigrations(client, schema, quoted)).filter(takes);
    await lockDataTables(client, schema, quoted, new Set(pending.flatMap((migration) => migration.tables)));
    const applied: number[] = [];
    for (const migration of pending) {
      await client.query(migration.sql(quoted));
      await client.query(recordSql(quoted, migration));
      applied.push(migration.version);
    }
    if (applied.length > 0) await client.query(oldestWritersSql(quoted));
    await client.query('COMMIT');
    return applied;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (connection.broken ??= rollbackError));
    throw error;
  }
}

/**
 * Takes the locks of the data tables the pending migrations alter, before any DDL, in the
 * order a batch locks them (traces, spans, logs, dead_letters: writeRows.ts). Code of an
 * older schema version may go on writing while a newer release migrates (oldest_writer);
 * DDL in migration order (spans by migration 3, traces by 4) held spans while it waited
 * for traces, which a batch held while it waited for spans: the deadlock detector killed
 * one of them every time (an attack). Taken in one order, a migration waits for the
 * batches under way, and the batches after it wait for the migration. Only those tables: a
 * migration that alters none of dead_letters (all but the upgrade from version 1) does not
 * wait for a batch isolating a refused record, which writes there and then into traces
 * again after rolling back to a savepoint (a review).
 */
async function lockDataTables(client: pg.PoolClient, schema: string, quoted: QuotedSchema, tables: ReadonlySet<string>): Promise<void> {
  if (tables.size === 0) return;
  const { rows } = await client.query<{ name: string }>(
    `SELECT name FROM unnest($1::text[]) WITH ORDINALITY AS t(name, position)
      WHERE to_regclass(format('%I.%I', $2::text, name)) IS NOT NULL ORDER BY position`,
    [DATA_TABLES.filter((table) => tables.has(table)), schema],
  );
  if (rows.length === 0) return;
  await client.query(`LOCK TABLE ${rows.map(({ name }) => `${quoted}.${name}`).join(', ')} IN ACCESS EXCLUSIVE MODE`);
}

/**
 * Up to date is the usual case, and it is answered without DDL or a lock, so a role that
 * may only write can start with migrations on once the schema is installed. Its tables are
 * looked for too: the exporter asks again after a batch found one missing, and a table
 * dropped by hand, its migration recorded, is said as what it is, not migrated again
 * before every batch for nothing. Within `timeoutMillis` (the exporter's deadline) rather
 * than the session's statement_timeout, as a batch is written: the first look at the
 * catalog on a fresh connection took 5-10 ms here, and with a role's statement_timeout of
 * 10 ms the exporter never wrote to an up-to-date schema (a review). Not the DDL: a
 * migration over a large table may need longer than a batch.
 */
async function pendingNow(client: pg.PoolClient, schema: string, quoted: QuotedSchema, timeoutMillis: number | undefined): Promise<Migration[]> {
  await client.query(timeoutMillis === undefined ? 'BEGIN' : `BEGIN; SET LOCAL statement_timeout = ${Math.max(1, Math.floor(timeoutMillis))}`);
  try {
    const pending = await pendingMigrations(client, schema, quoted);
    if (pending.length > 0) return pending;
    const { rows } = await client.query<{ name: string }>(
      `SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(format('%I.%I', $2::text, name)) IS NULL`,
      [DATA_TABLES, schema],
    );
    if (rows.length > 0) throw new MissingTableError(schema, rows.map((row) => row.name));
    return [];
  } finally {
    await client.query('COMMIT');
  }
}

interface AppliedMigration {
  version: number;
  oldest_writer?: number | null;
}

/**
 * The migrations applied to `schema`, or undefined when it has no migrations table.
 * Throws ForeignMigrationsTableError when its migrations table is another tool's.
 */
async function appliedMigrations(db: pg.Pool | pg.PoolClient, schema: string, quoted: QuotedSchema): Promise<AppliedMigration[] | undefined> {
  const table = `${quoted}.migrations`;
  // A schema shared with another tool (public, with TypeORM's, Laravel's or
  // golang-migrate's own `migrations` table): said as what it is, not as a missing column
  // or as a newer otel-blackbox. Its columns read from pg_attribute, in the same round trip:
  // information_schema.columns took ~15 ms on a fresh connection, and a role with
  // statement_timeout = 10ms could then never export to an up-to-date schema (a review).
  const { rows } = await db.query<{ present: boolean; ours: number }>(
    `SELECT to_regclass($1) IS NOT NULL AS present,
            (SELECT count(*)::int FROM pg_attribute
              WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND attname IN ('version', 'name', 'applied_at')) AS ours`,
    [table],
  );
  if (!rows[0]?.present) return undefined;
  if (rows[0].ours !== 3) throw new ForeignMigrationsTableError(schema);
  // to_jsonb: oldest_writer is there from migration 4 on.
  const applied = await db.query<{ row: AppliedMigration }>(`SELECT to_jsonb(m) AS row FROM ${table} m`);
  return applied.rows.map(({ row }) => row);
}

/** The migrations not applied yet; throws SchemaTooNewError when the database is ahead of this code. */
async function pendingMigrations(db: pg.Pool | pg.PoolClient, schema: string, quoted: QuotedSchema): Promise<Migration[]> {
  const applied = await appliedMigrations(db, schema, quoted);
  if (applied === undefined) return [...MIGRATIONS];
  const versions = new Set(applied.map((row) => row.version));
  // Migrations newer than this code are fine to write through if each says code this old
  // may (an added column with a default, a dropped index); any other is not.
  const newerNeeds = Math.max(0, ...applied.filter((row) => row.version > LATEST_VERSION).map((row) => row.oldest_writer ?? row.version));
  if (newerNeeds > LATEST_VERSION) throw new SchemaTooNewError(schema, Math.max(...versions));
  return MIGRATIONS.filter((m) => !versions.has(m.version));
}

/**
 * The migrations `schema` lacks, read without a lock or DDL: for an exporter with
 * `migrate: false`, which applies none but writes only what the schema has (migration 8's
 * column). Rejects where the schema cannot be read.
 */
export async function missingMigrations(pool: pg.Pool, schema: string): Promise<{ version: number; name: string }[]> {
  const pending = await pendingMigrations(pool, schema, quoteSchema(schema));
  return pending.map(({ version, name }) => ({ version, name }));
}

/**
 * Throws SchemaTooNewError when a newer otel-blackbox has migrated `schema` at all, whatever
 * its migrations allow older writers: for what deletes (prune), a newer schema may hold
 * rows this version does not know to delete with their trace.
 */
export async function refuseNewerSchema(db: pg.Pool | pg.PoolClient, schema: string): Promise<void> {
  const applied = await appliedMigrations(db, schema, quoteSchema(schema));
  const version = Math.max(0, ...(applied ?? []).map((row) => row.version));
  if (version > LATEST_VERSION) throw new SchemaTooNewError(schema, version, 'prune it');
}

/** The advisory lock a migration of `schema` holds: (namespace, key), the same in every process. */
export function migrationLock(schema: string): [namespace: number, key: number] {
  return [LOCK_NAMESPACE, lockKey(schema)];
}

/** 32-bit FNV-1a of the schema name: one lock per schema, the same in every process. */
function lockKey(schema: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < schema.length; i++) {
    hash ^= schema.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash | 0;
}
