import { isIPv4 } from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { VIEWER_DEFAULTS } from '../../options/defaults.js';
import { describeTarget, redact, secretsOf } from '../../postgres/redact.js';
import { quoteSchema } from '../../postgres/schemaName.js';
import { missingViewerIndexes } from '../../ui/viewerIndexes.js';
import { createViewerServer, LOOPBACK_HOSTNAMES } from '../../ui/viewerServer.js';
import { readOnlyQueries, type ViewerDatabase } from '../../ui/viewerDatabase.js';
import { printable } from '../terminalText.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, HELP_OPTION, UsageError, connectTimeoutMillis, connectionStringFrom, parseOrUsage, schemaAdvice, schemaFrom } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';

export const uiHelp = `Usage: otel-blackbox ui [options]

Serves a read-only trace viewer over the schema: recent crashes, traces and log lines
outside spans, and each trace as a waterfall with its spans' attributes, events and log
records. Runs until interrupted (Ctrl-C).

Options:
${DATABASE_HELP}
  -p, --port N         TCP port to listen on (default: ${VIEWER_DEFAULTS.port}; 0 picks a free one)
      --host ADDR      address to bind (default: ${VIEWER_DEFAULTS.host}). The viewer has no
                       authentication: any other address lets everyone who can reach it
                       read your traces
  -h, --help           show this help`;

/** Set by tests: resolves once the server listens, with its URL; the command then waits for `stop`. */
export interface UiRunControl {
  listening?: (url: string) => void;
  stop?: AbortSignal;
}

/**
 * The host as a URL names it, which is what a Host header is compared with: 127.1 is
 * 127.0.0.1, 0:0:0:0:0:0:0:1 is [::1], ::ffff:127.0.0.1 is [::ffff:7f00:1].
 */
function canonicalHost(host: string): string {
  try {
    return new URL(`http://${host.includes(':') ? `[${host}]` : host}`).hostname.toLowerCase();
  } catch {
    return host.toLowerCase();
  }
}

/** 127.0.0.0/8 (also IPv4-mapped), ::1 and localhost, however written. */
function isLoopback(canonical: string): boolean {
  if (canonical === 'localhost' || canonical === '[::1]') return true;
  if (isIPv4(canonical)) return canonical.startsWith('127.');
  return /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

export async function uiCommand(args: string[], io: CommandIo, control: UiRunControl = {}): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      strict: true,
      options: { ...HELP_OPTION, ...DATABASE_OPTIONS, port: { type: 'string', short: 'p' }, host: { type: 'string' } },
    }),
  );
  if (values.help) {
    io.out(uiHelp);
    return EXIT.ok;
  }
  const schemaName = schemaFrom(values.schema);
  const schema = quoteSchema(schemaName);
  const port = portArg(values.port);
  // An IPv6 address as a URL writes it ([::1]) is taken too: listen() wants it bare.
  const host = (values.host ?? VIEWER_DEFAULTS.host).replace(/^\[(.*)\]$/, '$1');
  if (host.length === 0) throw new UsageError('--host expects an address, got ""');
  const connectionString = connectionStringFrom(values.database);
  const secrets = secretsOf({ connectionString });
  const target = describeTarget({ connectionString });
  const pool = viewerPool(connectionString);
  // Asked once before listening: a viewer started against a database it cannot reach, or a
  // schema without our tables, printed its URL and then failed on every page. The columns
  // named are the newest the pages read (migration 5): a schema older than this viewer
  // is told to migrate.
  try {
    await pool.query(`SELECT parent_is_remote, resource_schema_url, scope_schema_url FROM ${schema}.spans LIMIT 0`);
  } catch (error) {
    await pool.end();
    io.err(`otel-blackbox ui: cannot query ${printable(target)}: ${printable(redact((error as Error).message, secrets))}${schemaAdvice(error, schemaName)}`);
    return EXIT.failed;
  }
  // Served as before without them, but said: each of those lists reads the whole table.
  // A catalog that cannot be read is no reason not to serve.
  const missing = await missingViewerIndexes(pool, schema).catch(() => []);
  if (missing.length > 0) {
    io.err(
      `otel-blackbox ui: note: schema "${schemaName}" lacks ${missing.join('; ')}. Without ${missing.length === 1 ? 'it, that list reads' : 'them, those lists read'} the whole table at every page. ` +
        `\`otel-blackbox migrate\` adds ${missing.length === 1 ? 'it' : 'them'} (an invalid one, or one of another definition, must be dropped first: it says which); \`otel-blackbox migrate --dry-run\` prints the statements, to build beforehand with CREATE INDEX CONCURRENTLY.`,
    );
  }
  // Errors may quote values from the database: escaped before they reach a terminal.
  // On loopback, only loopback names are answered (DNS rebinding); elsewhere the operator chose the exposure.
  const canonical = canonicalHost(host);
  const loopback = isLoopback(canonical);
  const allowedHostnames = loopback ? new Set([...LOOPBACK_HOSTNAMES, canonical]) : undefined;
  const server = createViewerServer({ pool, schema, secrets, logError: (line) => io.err(printable(line)), allowedHostnames });
  try {
    server.listen(port, host);
    await once(server, 'listening');
  } catch (error) {
    await pool.end();
    throw new Error(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/`;
  io.out(`otel-blackbox ui: ${url} (schema "${schemaName}" in ${target}); Ctrl-C stops it`);
  if (!loopback) {
    io.err(
      `otel-blackbox ui: WARNING: listening on ${host}, not on loopback. The viewer has no authentication: anyone who can reach this address can read every trace, span attribute and log in the schema; ` +
        `and it answers to any Host name, so a web page open in a browser that can reach it can read them too, through a name rebound to this address (DNS rebinding). ` +
        `Prefer loopback with an SSH tunnel (ssh -L 4455:127.0.0.1:4455 host).`);
  }
  control.listening?.(url);
  const stop = control.stop ?? signalStop();
  if (!stop.aborted) await once(stop, 'abort');
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await pool.end();
  return EXIT.ok;
}

function portArg(value: string | undefined): number {
  if (value === undefined) return VIEWER_DEFAULTS.port;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new UsageError(`--port expects a whole number from 0 to 65535, got ${JSON.stringify(value)}`);
  return port;
}

function signalStop(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return controller.signal;
}

/** The viewer's connections, read through read-only transactions (viewerDatabase.ts). */
export function viewerPool(connectionString: string | undefined): ViewerDatabase {
  const pool = new pg.Pool({
    connectionString,
    max: 4,
    application_name: 'otel-blackbox-ui',
    // statement_timeout needs a server that answers: one that accepts and then says nothing
    // held every request, and with the 4 connections taken, every later one, for good.
    connectionTimeoutMillis: connectTimeoutMillis(),
    query_timeout: 20_000,
    keepAlive: true,
  });
  pool.on('error', () => {});
  return readOnlyQueries(pool);
}
