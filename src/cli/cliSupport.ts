// What every command shares: argument parsing with --help, exit codes, the database
// connection, and output (data on stdout, diagnostics on stderr).
import pg from 'pg';
import type { ParseArgsConfig } from 'node:util';
import { ENV, EXPORTER_DEFAULTS } from '../options/defaults.js';
import { envString } from '../options/environment.js';
import { MAX_MILLIS } from '../options/validate.js';
import { validConnectionString } from '../postgres/connectionString.js';
import { validSchemaName } from '../postgres/schemaName.js';
import { describeTarget } from '../postgres/redact.js';
import { SQLSTATE } from '../postgres/sqlState.js';

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: database unreachable, recovery incomplete. */
  failed: 1,
  /** The command line was wrong. */
  usage: 2,
  /** `inspect` read the file but found damaged or torn records. */
  damaged: 3,
} as const;

export class UsageError extends Error {}

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Whether stderr is a terminal: progress lines only then. */
  interactive: boolean;
}

export const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  interactive: Boolean(process.stderr.isTTY),
};

export type Options = NonNullable<ParseArgsConfig['options']>;

export const DATABASE_OPTIONS = {
  database: { type: 'string', short: 'd' },
  schema: { type: 'string', short: 's' },
} as const satisfies Options;

export const DATABASE_HELP = `  -d, --database URL   PostgreSQL connection URL, postgres://user@host:5432/db[?sslmode=...]
                       (default: ${ENV.databaseUrl}, else PG* variables)
  -s, --schema NAME    schema of the otel-blackbox tables (default: ${ENV.schema}, else ${EXPORTER_DEFAULTS.schema})`;

export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

/** Runs a parseArgs call, turning its errors (unknown option, missing value) into usage errors. */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * A value from the command line, else from the environment, checked by `valid` under the
 * name the operator gave it: a bad OTEL_BLACKBOX_SCHEMA was reported as a bad --schema,
 * which was nowhere on the command line.
 */
function optionOrEnv<T>(option: string, value: string | undefined, variable: string, valid: (name: string, value: string) => T): T | undefined {
  const [name, given] = value !== undefined ? [option, value] : [`${variable} (environment variable)`, envString(variable)];
  if (given === undefined) return undefined;
  try {
    return valid(name, given);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function schemaFrom(value: string | undefined): string {
  return optionOrEnv('--schema', value, ENV.schema, validSchemaName) ?? EXPORTER_DEFAULTS.schema;
}

/** --database, else DATABASE_URL; undefined leaves node-postgres to the PG* variables. */
export function connectionStringFrom(value: string | undefined): string | undefined {
  return optionOrEnv('--database', value, ENV.databaseUrl, validConnectionString);
}

/**
 * How long a command waits for a connection: PGCONNECT_TIMEOUT (seconds, as libpq reads
 * it), else 10 s. node-postgres waits for good by default, and a server that accepts the
 * connection and never answers (a stuck proxy, a wrong port) hung every command.
 */
export function connectTimeoutMillis(): number {
  const seconds = Number(envString('PGCONNECT_TIMEOUT'));
  // At most what Node's timers can wait: a longer timeout would fire at once.
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(Math.ceil(seconds * 1000), MAX_MILLIS) : 10_000;
}

/** A small pool for one command; the target is described without its password. */
export function openPool(connectionString: string | undefined): { pool: pg.Pool; target: string } {
  const pool = new pg.Pool({
    connectionString,
    max: 2,
    application_name: 'otel-blackbox-cli',
    connectionTimeoutMillis: connectTimeoutMillis(),
    // A server that stops answering mid-query is given up on too (its queries are reads,
    // and migrations whose table locks wait TABLE_LOCK_WAIT_MILLIS at most).
    query_timeout: 10 * 60_000,
    keepAlive: true,
    // node-postgres reads timestamps in ISO style only: under a database's 'SQL, DMY' (or
    // 'German') `crashes` failed on a null time (an attack). DateStyle is one of the
    // settings PgBouncer keeps per client, so setting it for the session leaves no trace
    // on a pooled server connection.
    onConnect: async (client) => {
      await client.query("SET DateStyle = 'ISO, YMD'");
    },
  });
  pool.on('error', () => {});
  return { pool, target: describeTarget({ connectionString }) };
}

/**
 * What to do about a read command's failed query, when the error says it (else ''): a
 * schema without our tables is one `migrate` was never run on, or the wrong one.
 */
export function schemaAdvice(error: unknown, schemaName: string): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === SQLSTATE.UNDEFINED_COLUMN) {
    return `; the schema "${schemaName}" lacks columns this otel-blackbox reads: if otel-blackbox made it, it is older than this version (bring it up to date with otel-blackbox migrate --schema ${schemaName}); otherwise check --schema and --database`;
  }
  if (code !== SQLSTATE.UNDEFINED_TABLE && code !== SQLSTATE.INVALID_SCHEMA_NAME) return '';
  return `; the schema "${schemaName}" has no otel-blackbox tables: create them with otel-blackbox migrate --schema ${schemaName}, or check --schema and --database`;
}

/**
 * A count or a duration given as decimal digits: Number() alone also took "0x10", "2.0",
 * " 3" and "1e21" (which reached PostgreSQL as "1e+21" and failed there, blaming the
 * database for a usage error).
 */
function wholeNumberArg(name: string, value: string, least: 0 | 1): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < least) {
    const what = least === 0 ? 'a whole number, 0 or more,' : 'a positive whole number';
    throw new UsageError(`--${name} expects ${what} in decimal digits, got ${JSON.stringify(value)}`);
  }
  return number;
}

export function positiveIntegerArg(name: string, value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : wholeNumberArg(name, value, 1);
}

/** A count where 0 means none. */
export function countArg(name: string, value: string | undefined, fallback: number): number {
  return value === undefined ? fallback : wholeNumberArg(name, value, 0);
}
