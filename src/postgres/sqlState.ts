// PostgreSQL errors are classified by SQLSTATE, never by message text: messages are
// translated (lc_messages) and reworded between releases, codes are not.
// https://www.postgresql.org/docs/current/errcodes-appendix.html

export const SQLSTATE = {
  READ_ONLY_SQL_TRANSACTION: '25006',
  IDLE_IN_TRANSACTION_SESSION_TIMEOUT: '25P03',
  INVALID_AUTHORIZATION: '28000',
  INVALID_PASSWORD: '28P01',
  INVALID_CATALOG_NAME: '3D000',
  INVALID_SCHEMA_NAME: '3F000',
  SERIALIZATION_FAILURE: '40001',
  DEADLOCK_DETECTED: '40P01',
  INSUFFICIENT_PRIVILEGE: '42501',
  UNDEFINED_TABLE: '42P01',
  UNDEFINED_COLUMN: '42703',
  LOCK_NOT_AVAILABLE: '55P03',
  QUERY_CANCELED: '57014',
  ADMIN_SHUTDOWN: '57P01',
  CRASH_SHUTDOWN: '57P02',
  CANNOT_CONNECT_NOW: '57P03',
  IDLE_SESSION_TIMEOUT: '57P05',
  TOO_MANY_CONNECTIONS: '53300',
  UNIQUE_VIOLATION: '23505',
  CHECK_VIOLATION: '23514',
  PROGRAM_LIMIT_EXCEEDED: '54000',
} as const;

/** The first two characters of a SQLSTATE name its class. */
const SQLSTATE_CLASS = {
  CONNECTION_EXCEPTION: '08',
  DATA_EXCEPTION: '22',
  INTEGRITY_CONSTRAINT_VIOLATION: '23',
  INSUFFICIENT_RESOURCES: '53',
  PROGRAM_LIMIT_EXCEEDED: '54',
  SYSTEM_ERROR: '58',
} as const;

const TRANSIENT_STATES: ReadonlySet<string> = new Set([
  SQLSTATE.READ_ONLY_SQL_TRANSACTION, // connected to a standby during a failover
  SQLSTATE.SERIALIZATION_FAILURE,
  SQLSTATE.DEADLOCK_DETECTED,
  SQLSTATE.LOCK_NOT_AVAILABLE,
  SQLSTATE.QUERY_CANCELED, // statement_timeout, or pg_cancel_backend
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CRASH_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
  // The server ended the session for a timeout set on the role or database: a new one works.
  SQLSTATE.IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
  SQLSTATE.IDLE_SESSION_TIMEOUT,
]);

const TRANSIENT_CLASSES: ReadonlySet<string> = new Set([
  SQLSTATE_CLASS.CONNECTION_EXCEPTION,
  SQLSTATE_CLASS.INSUFFICIENT_RESOURCES, // too many connections, disk full, out of memory
  SQLSTATE_CLASS.SYSTEM_ERROR,
]);

const RECORD_CLASSES: ReadonlySet<string> = new Set([
  SQLSTATE_CLASS.DATA_EXCEPTION,
  SQLSTATE_CLASS.INTEGRITY_CONSTRAINT_VIOLATION,
  SQLSTATE_CLASS.PROGRAM_LIMIT_EXCEEDED, // e.g. index row too big
]);

// Node's socket errors reach us from pg without a SQLSTATE.
const TRANSIENT_SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

// node-postgres reports a lost connection and a pool checkout timeout as plain Errors with
// neither a SQLSTATE nor a socket code (pg/lib/client.js, pg-pool/index.js), so these
// few fixed English messages, which pg does not translate, are the only signal there is.
const PG_CONNECTION_LOST_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
];

/** SQLSTATEs of a statement that finds the schema gone or older than this code: a table, the schema or a column missing. */
export function meansSchemaOutOfDate(state: string | undefined): boolean {
  return state === SQLSTATE.UNDEFINED_TABLE || state === SQLSTATE.INVALID_SCHEMA_NAME || state === SQLSTATE.UNDEFINED_COLUMN;
}

/**
 * - `transient`: retrying later can succeed (connection lost, timeout, serialization).
 * - `record`: one record is unstorable (bad value, too large, constraint): isolate it.
 * - `permanent`: configuration or programming error: retrying without a change is futile.
 */
export type ErrorKind = 'transient' | 'record' | 'permanent';

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The SQLSTATE of a server error; socket errors such as `EPIPE` are not SQLSTATEs. */
export function sqlStateOf(error: unknown): string | undefined {
  const code = codeOf(error);
  if (code === undefined || TRANSIENT_SOCKET_CODES.has(code)) return undefined;
  // An errno name of five capitals (EBADF, EROFS) is no SQLSTATE: no class starts with E.
  return /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) ? code : undefined;
}

export function classifyError(error: unknown): ErrorKind {
  const code = codeOf(error);
  if (code !== undefined && TRANSIENT_SOCKET_CODES.has(code)) return 'transient';
  const state = sqlStateOf(error);
  if (state !== undefined) {
    if (TRANSIENT_STATES.has(state) || TRANSIENT_CLASSES.has(state.slice(0, 2))) return 'transient';
    if (RECORD_CLASSES.has(state.slice(0, 2))) return 'record';
    return 'permanent';
  }
  if (error instanceof AggregateError && error.errors.some((e) => classifyError(e) === 'transient')) {
    return 'transient'; // Node's happy-eyeballs connect reports every address it tried
  }
  const message = error instanceof Error ? error.message : '';
  if (PG_CONNECTION_LOST_MESSAGES.some((m) => message.startsWith(m))) return 'transient';
  return 'permanent';
}

/**
 * A refusal that may be one record's or every record's: a PL/pgSQL error (class P0: a
 * trigger's RAISE, P0001; a failed ASSERT, P0004), or insufficient privilege (42501: a
 * row-level security policy refuses a row, a REVOKE refuses them all). isolateBadRecords.ts
 * tells the two apart.
 */
export function mayBeTheRecords(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && (state.startsWith('P0') || state === SQLSTATE.INSUFFICIENT_PRIVILEGE);
}

/**
 * A failure to reach the database at all, as opposed to a statement it refused: a socket
 * error or a lost connection (no SQLSTATE), class 08, the server shutting down or starting
 * (57P01–57P03), no connection slot free (53300: a mass restart of the role's clients), or
 * the session ended for a timeout (25P03, 57P05).
 */
export function isConnectionFailure(error: unknown): boolean {
  if (classifyError(error) !== 'transient') return false;
  const state = sqlStateOf(error);
  return (
    state === undefined ||
    state.startsWith(SQLSTATE_CLASS.CONNECTION_EXCEPTION) ||
    state === SQLSTATE.ADMIN_SHUTDOWN ||
    state === SQLSTATE.CRASH_SHUTDOWN ||
    state === SQLSTATE.CANNOT_CONNECT_NOW ||
    state === SQLSTATE.TOO_MANY_CONNECTIONS ||
    state === SQLSTATE.IDLE_IN_TRANSACTION_SESSION_TIMEOUT ||
    state === SQLSTATE.IDLE_SESSION_TIMEOUT
  );
}
