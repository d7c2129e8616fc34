// Which connection strings node-postgres can use, checked when the exporter is made (or
// the CLI reads --database), not at the first batch. pg-connection-string resolves what is
// not a URL against "postgres://base": the libpq keyword/value form
// ("host=db port=5432 dbname=app") or a typo became a connection to a host named "base",
// and every batch failed, as retryable, with "getaddrinfo ENOTFOUND base".
import { InvalidOptionError } from '../options/validate.js';

export const CONNECTION_STRING_EXPECTED =
  'a postgres:// or postgresql:// URL (postgres://user:password@host:5432/database?sslmode=require), ' +
  'or a Unix socket directory as node-postgres reads it ("/var/run/postgresql database" or "socket:/var/run/postgresql?db=database")';

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;

/**
 * What keeps node-postgres from using `value`, said without its content (it may hold a
 * password); undefined when it can use it. The forms accepted are those pg-connection-string
 * reads as meant: a path starting with "/", socket:, and postgres(ql):// URLs.
 */
export function connectionStringProblem(value: string): string | undefined {
  if (value.trim() === '') return 'an empty string';
  if (value.includes('\0')) return 'text with a NUL character';
  if (value.startsWith('/')) return undefined;
  const scheme = SCHEME.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const keywords = [...value.matchAll(/([A-Za-z_]+)\s*=/g)].map((match) => `${match[1]}=`);
    return keywords.length > 0 ? `keyword/value pairs (${keywords.join(', ')}), a form node-postgres does not read` : 'text that is not a URL';
  }
  // "localhost:5432/app" has a "scheme" too, by URL rules: it is no more a URL than the above.
  if (/^\d/.test(value.slice(scheme.length + 1))) return 'text that is not a URL';
  if (scheme === 'socket') return undefined;
  if (scheme !== 'postgres' && scheme !== 'postgresql') return `a URL with the scheme "${scheme}:"`;
  const url = parsedAsPgDoes(value);
  if (url === undefined) return 'a postgres:// URL that cannot be parsed (a port that is not a number, or a character that must be percent-encoded)';
  return portIsUsable(url) ? undefined : 'a postgres:// URL whose port is not a number from 1 to 65535';
}

/**
 * Whether the port node-postgres takes from `url` can be connected to: the last `port`
 * parameter, else the URL's own (checked by the URL parser), else none (PGPORT or 5432).
 * A bad one made every batch fail, and its socket threw before node-postgres listened on
 * it (ConnectingClients.ts).
 */
function portIsUsable(url: URL): boolean {
  const port = portParameter(url);
  if (port === undefined || port === '') return true;
  return /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
}

/**
 * Whether node-postgres takes the port from `value` rather than PGPORT: a postgres:// URL
 * with a port of its own or a `port` parameter. A socket path names none.
 */
export function connectionStringNamesPort(value: string): boolean {
  if (!/^postgres(ql)?:/i.test(value)) return false;
  const url = parsedAsPgDoes(value);
  return url !== undefined && (url.port !== '' || (portParameter(url) ?? '') !== '');
}

/** The `port` query parameter node-postgres takes: the last one. */
function portParameter(url: URL): string | undefined {
  return url.searchParams.getAll('port').at(-1);
}

/**
 * What is wrong with PGPORT for a pool that reads it, or undefined. node-postgres takes it
 * with parseInt (an empty one is unset); one no socket can have made every batch fail with
 * ERR_SOCKET_BAD_PORT, and nothing said why before the first batch (a review).
 */
export function pgPortProblem(connectionString: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env.PGPORT;
  if (raw === undefined || raw === '' || (connectionString !== undefined && connectionStringNamesPort(connectionString))) return undefined;
  const port = Number.parseInt(raw, 10);
  if (port >= 1 && port <= 65535) return undefined;
  return `PGPORT=${JSON.stringify(raw)} is not a port from 1 to 65535, and node-postgres connects with it`;
}

/** The URL, where `value` throws nowhere in pg-connection-string's parse() (2.x), which does the same steps. */
function parsedAsPgDoes(value: string): URL | undefined {
  let text = value;
  if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text)) text = encodeURI(text).replace(/%25(\d\d)/g, '%$1');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // postgres://user@/database?host=/socket/dir: pg retries with a placeholder host.
    try {
      url = new URL(text.replace('@/', '@___DUMMY___/'));
    } catch {
      return undefined;
    }
  }
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    decodeURI(url.pathname);
    return url;
  } catch {
    return undefined;
  }
}

/** `value` if node-postgres can use it; else an InvalidOptionError naming `option`. */
export function validConnectionString(option: string, value: string): string {
  const problem = connectionStringProblem(value);
  if (problem !== undefined) throw new InvalidConnectionStringError(option, problem);
  return value;
}

export class InvalidConnectionStringError extends InvalidOptionError {
  constructor(option: string, problem: string) {
    super(option, CONNECTION_STRING_EXPECTED, problem);
    // What is wrong is said instead of the value: InvalidOptionError would quote it, password and all.
    this.message = `Invalid option ${option}: expected ${CONNECTION_STRING_EXPECTED}, got ${problem}.`;
  }
}
