// Options of PostgresSpanExporter: their documentation, validation, and defaults, all in
// one place. Precedence: code, then environment (DATABASE_URL), then default.
import { safeDiag } from '../safeDiag.js';
import type pg from 'pg';
import { ENV, EXPORTER_DEFAULTS as D } from '../options/defaults.js';
import { envMillis, envString } from '../options/environment.js';
import { booleanOption, InvalidOptionError, knownOptionsOnly, millis, nonEmptyString, textWithoutNul, positiveInteger, validPool } from '../options/validate.js';
import { isValidSchemaName, validSchemaName } from './schemaName.js';
import { CONNECTION_STRING_EXPECTED, connectionStringProblem, pgPortProblem, validConnectionString } from './connectionString.js';

export interface PostgresSpanExporterOptions {
  /**
   * PostgreSQL connection URI, e.g. `postgres://user:password@host:5432/db?sslmode=require`
   * (`postgres://` or `postgresql://`; also a Unix socket directory as node-postgres reads
   * it, `/var/run/postgresql db`). The libpq keyword/value form (`host=... dbname=...`) is
   * not read by node-postgres and throws here. Default: `process.env.DATABASE_URL`; when that is unset too, node-postgres reads the
   * `PG*` environment variables (PGHOST, PGUSER, PGPASSWORD, PGDATABASE, ...).
   * Not allowed together with `pool`.
   */
  connectionString?: string | undefined;
  /**
   * A pool of your own (e.g. with TLS settings). The exporter checks out one connection per
   * batch and never ends it: `shutdown()` leaves it open for you. Default: none; the
   * exporter creates, and on shutdown ends, its own pool.
   */
  pool?: pg.Pool | undefined;
  /**
   * Schema of the tables; a plain lowercase identifier (`^[a-z_][a-z0-9_]{0,62}$`), not
   * starting with `pg_` and not `information_schema` (PostgreSQL's own).
   * Default: `process.env.OTEL_BLACKBOX_SCHEMA` (as the CLI reads it), else `'otel'`.
   */
  schema?: string | undefined;
  /**
   * Create or upgrade the schema before the first batch. Set `false` for a runtime role
   * that may only write, and migrate with `npx otel-blackbox migrate`. Default: `true`.
   */
  migrate?: boolean | undefined;
  /** Connections in the exporter's own pool (concurrent batches beyond it queue). Default: `4`. */
  maxConnections?: number | undefined;
  /** `application_name` the exporter's own connections show in pg_stat_activity. Default: `'otel-blackbox'`. */
  applicationName?: string | undefined;
  /**
   * How long a batch waits for a connection of the exporter's own pool before it fails
   * as transient; `0` sets no limit of its own, and the wait is still bounded by
   * `exportTimeoutMillis`. Default: `10000` (milliseconds).
   */
  connectionTimeoutMillis?: number | undefined;
  /**
   * How long one batch may take, from waiting for a connection to COMMIT. Each transaction
   * runs with `SET LOCAL statement_timeout` set to what remains of it, and at the end the
   * connection is closed: a batch its caller stopped waiting for (an export that timed out,
   * a processor that shut down) frees its connection in the pool and on the server. The
   * batch then fails as transient and can be retried; the retry is idempotent. Keep it at
   * or below the span processor's `exportTimeoutMillis`. Default: `OTEL_BSP_EXPORT_TIMEOUT`
   * (the processor's variable), else `30000` (milliseconds, the processor's default).
   */
  exportTimeoutMillis?: number | undefined;
}

export interface ResolvedExporterOptions {
  connectionString: string | undefined;
  pool: pg.Pool | undefined;
  schema: string;
  migrate: boolean;
  maxConnections: number;
  applicationName: string;
  connectionTimeoutMillis: number;
  exportTimeoutMillis: number;
}

const OWN_POOL_OPTIONS = ['connectionString', 'maxConnections', 'applicationName', 'connectionTimeoutMillis'] as const;

/** Every option's name. `satisfies` makes a name added to the interface and not here a compile error. */
const OPTION_NAMES = Object.keys({
  connectionString: 1, pool: 1, schema: 1, migrate: 1, maxConnections: 1, applicationName: 1, connectionTimeoutMillis: 1, exportTimeoutMillis: 1,
} satisfies Record<keyof PostgresSpanExporterOptions, 1>);

export function resolveExporterOptions(options: PostgresSpanExporterOptions = {}): ResolvedExporterOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object', options);
  }
  knownOptionsOnly('PostgresSpanExporter', options, OPTION_NAMES);
  const pool = options.pool;
  if (pool !== undefined) {
    validPool(pool);
    for (const option of OWN_POOL_OPTIONS) {
      if (options[option] !== undefined) {
        // Never echo the value: a connection string may hold a password.
        throw new InvalidOptionError(option, `no value when pool is given (it configures the exporter's own pool)`, 'a value');
      }
    }
  }
  if (options.connectionString !== undefined) {
    nonEmptyString('connectionString', options.connectionString, '');
    validConnectionString('connectionString', options.connectionString);
  }
  const connectionString = options.connectionString ?? (pool === undefined ? envConnectionString() : undefined);
  const portProblem = pool === undefined ? pgPortProblem(connectionString) : undefined;
  if (portProblem !== undefined) safeDiag.warn(`otel-blackbox: ${portProblem}: every batch will fail (the spans wait in the journal) until it is mended.`);
  return {
    connectionString,
    pool,
    schema: validSchemaName('schema', options.schema ?? envSchema() ?? D.schema),
    migrate: booleanOption('migrate', options.migrate, D.migrate),
    maxConnections: positiveInteger('maxConnections', options.maxConnections, D.maxConnections),
    applicationName: textWithoutNul('applicationName', options.applicationName, D.applicationName),
    connectionTimeoutMillis: millis('connectionTimeoutMillis', options.connectionTimeoutMillis, D.connectionTimeoutMillis, 0),
    // The processor's own variable, read quietly (the processor says a bad one): lowered
    // there alone, the exporter's 30 s outlived the processor's wait without a word (a review).
    exportTimeoutMillis: millis('exportTimeoutMillis', options.exportTimeoutMillis, envMillis(ENV.exportTimeoutMillis, 1, false) ?? D.exportTimeoutMillis, 1),
  };
}

/** A DATABASE_URL node-postgres cannot use warns and is not used (never echoed: it may hold a password). */
function envConnectionString(): string | undefined {
  const value = envString(ENV.databaseUrl);
  const problem = value === undefined ? undefined : connectionStringProblem(value);
  if (problem === undefined) return value;
  safeDiag.warn(`otel-blackbox: ignoring ${ENV.databaseUrl}: expected ${CONNECTION_STRING_EXPECTED}, got ${problem}; node-postgres reads the PG* variables instead.`);
  return undefined;
}

/** A bad environment value warns and falls back: a deployment typo must not stop the app. */
function envSchema(): string | undefined {
  const value = envString(ENV.schema);
  if (value === undefined || isValidSchemaName(value)) return value;
  safeDiag.warn(`otel-blackbox: ignoring ${ENV.schema}=${JSON.stringify(value)}: expected a plain lowercase identifier.`);
  return undefined;
}
