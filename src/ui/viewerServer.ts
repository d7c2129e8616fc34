// The viewer's HTTP server: Node's own http, a page and a read-only JSON API. Nothing from
// the database is turned into HTML here or in the page (the page builds its DOM with
// textContent), and the Content-Security-Policy forbids inline script as a second wall.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { ViewerDatabase } from './viewerDatabase.js';
import type { QuotedSchema } from '../postgres/schemaName.js';
import { redact } from '../postgres/redact.js';
import { sqlStateOf } from '../postgres/sqlState.js';
import { VIEWER_HTML, VIEWER_CSS } from './viewerPage.js';
import { VIEWER_SCRIPT } from './viewerScript.js';
import { listLogsOutsideSpans, logFilterFrom } from './logsOutsideSpans.js';
import { LogColumns } from './LogColumns.js';
import { BadRequest, filterFrom, isSpanId, isTraceId, listCrashes, listServices, listTraces, processLogs, spanDetails, spanLogs, traceSpans } from './viewerQueries.js';

export interface ViewerServerOptions {
  pool: ViewerDatabase;
  schema: QuotedSchema;
  /** Replaced by **** in every error message the server prints or sends. */
  secrets: readonly string[];
  /** Where server-side errors are reported (already redacted). */
  logError: (line: string) => void;
  /**
   * The host names a request's Host header may carry; undefined: any. A viewer on loopback
   * answers only to loopback names: otherwise a page of another site, its name rebound to
   * 127.0.0.1 (DNS rebinding), could read every trace through the visitor's browser.
   */
  allowedHostnames?: ReadonlySet<string>;
}

/** The names a viewer listening on loopback answers to. */
export const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export function createViewerServer(options: ViewerServerOptions): Server {
  // One per server: the catalog is asked which columns the schema has once, not per request.
  const logColumns = new LogColumns(options.pool, options.schema);
  return createServer((request, response) => {
    route(request, response, options, logColumns).catch((error: unknown) => {
      const message = redact((error as Error)?.message ?? String(error), options.secrets);
      options.logError(`otel-blackbox ui: ${request.method} ${request.url}: ${message}`);
      // The detail (table names, the server's words) goes to the terminal that started the
      // viewer; whoever asks learns only that it failed, and PostgreSQL's code for why.
      const sqlState = sqlStateOf(error);
      const body = { error: "the database query failed: the viewer's terminal says why", ...(sqlState === undefined ? {} : { sqlState }) };
      if (!response.headersSent) send(response, 500, 'application/json', JSON.stringify(body));
      else response.end();
    });
  });
}

async function route(request: IncomingMessage, response: ServerResponse, options: ViewerServerOptions, logColumns: LogColumns): Promise<void> {
  if (options.allowedHostnames && !options.allowedHostnames.has(hostnameOf(request.headers.host))) {
    const names = [...options.allowedHostnames].join(', ');
    send(response, 403, 'application/json', JSON.stringify({ error: `this viewer answers only to ${names}: open it by one of those names` }));
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    send(response, 405, 'application/json', JSON.stringify({ error: 'read-only: GET only' }), { Allow: 'GET, HEAD' });
    return;
  }
  const url = requestUrl(request);
  // Not logged: anyone can send one, and the terminal is for the database's failures.
  if (url === undefined) return send(response, 400, 'application/json', JSON.stringify({ error: 'the request-target is not a URL' }));
  const path = url.pathname;
  const { pool, schema } = options;
  if (path.startsWith('/api/') && CROSS_SITE.has(String(request.headers['sec-fetch-site']))) {
    // A page of another site can still make the visitor's browser send GETs it cannot
    // read: each one a query, enough of them to keep the pool busy for everyone.
    return send(response, 403, 'application/json', JSON.stringify({ error: "the viewer's API answers its own page only" }));
  }
  if (path === '/' || /^\/traces\/[0-9a-f]{32}$/.test(path)) return send(response, 200, 'text/html; charset=utf-8', VIEWER_HTML);
  // Trace ids as other tools print them, in capitals: the viewer's address is lowercase.
  if (/^\/traces\/[0-9a-fA-F]{32}$/.test(path)) return send(response, 308, 'text/plain; charset=utf-8', '', { Location: `${path.toLowerCase()}${url.search}` });
  if (path === '/viewer.js') return send(response, 200, 'text/javascript; charset=utf-8', VIEWER_SCRIPT);
  if (path === '/viewer.css') return send(response, 200, 'text/css; charset=utf-8', VIEWER_CSS);
  // Browsers ask for it unprompted; an empty answer keeps their consoles free of 404s.
  if (path === '/favicon.ico') return send(response, 204, 'image/x-icon', '');
  try {
    if (path === '/api/services') return json(response, { services: await listServices(pool, schema) });
    if (path === '/api/crashes') return json(response, await listCrashes(pool, schema, filterFrom(url.searchParams)));
    if (path === '/api/traces') return json(response, await listTraces(pool, schema, filterFrom(url.searchParams)));
    if (path === '/api/logs') {
      const filter = logFilterFrom(url.searchParams);
      return json(response, await logColumns.read((columns) => listLogsOutsideSpans(pool, schema, filter, columns)));
    }
    const traceMatch = /^\/api\/traces\/([^/]+)$/.exec(path);
    if (traceMatch) {
      const traceId = traceMatch[1]!.toLowerCase();
      if (!isTraceId(traceId)) throw new BadRequest('a trace id is 32 hex digits');
      // The span a link names comes even in a trace cut at MAX_TRACE_SPANS (traceSpans).
      const spanId = url.searchParams.get('span')?.toLowerCase() ?? undefined;
      if (spanId !== undefined && !isSpanId(spanId)) throw new BadRequest('span is 16 hex digits');
      const { spans, truncated, counts } = await traceSpans(pool, schema, traceId, spanId);
      if (spans.length === 0) return send(response, 404, 'application/json', JSON.stringify({ error: 'no spans for this trace id' }));
      return json(response, { traceId, spans, truncated, counts });
    }
    const spanMatch = /^\/api\/traces\/([^/]+)\/spans\/([^/]+)$/.exec(path);
    if (spanMatch) {
      const [traceId, spanId] = [spanMatch[1]!.toLowerCase(), spanMatch[2]!.toLowerCase()];
      if (!isTraceId(traceId) || !isSpanId(spanId)) throw new BadRequest('a trace id is 32 and a span id 16 hex digits');
      const [details, { logs, truncated }] = await Promise.all([spanDetails(pool, schema, traceId, spanId), logColumns.read((columns) => spanLogs(pool, schema, traceId, spanId, columns))]);
      if (details === undefined) return send(response, 404, 'application/json', JSON.stringify({ error: 'no such span in this trace' }));
      // A crash record names the writer that died: what that process logged last comes with
      // it. Only a crash record: an application's span may carry the attribute too (it is
      // stored 'ended', as the exporter stores any span with the markers but not their shape).
      const writerId = details.state === 'crashed' ? details.writer_id : null;
      const lastLines = writerId !== null ? await logColumns.read((columns) => processLogs(pool, schema, writerId, columns)) : null;
      return json(response, { ...details, logs, truncated, process_logs: lastLines });
    }
  } catch (error) {
    if (error instanceof BadRequest) return send(response, 400, 'application/json', JSON.stringify({ error: error.message }));
    throw error;
  }
  send(response, 404, 'application/json', JSON.stringify({ error: 'not found' }));
}

/** What a browser says of a request another site's page made (Sec-Fetch-Site); 'none' is the address bar. */
const CROSS_SITE = new Set(['cross-site', 'same-site']);

/** The request's URL; undefined for a request-target that is none (`http://[`), which a client may send. */
function requestUrl(request: IncomingMessage): URL | undefined {
  try {
    return new URL(request.url ?? '/', 'http://viewer');
  } catch {
    return undefined;
  }
}

/** The Host header's name without its port (`[::1]` keeps its brackets); '' when there is none or it does not parse. */
function hostnameOf(host: string | undefined): string {
  if (host === undefined) return '';
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return '';
  }
}

function json(response: ServerResponse, body: unknown): void {
  send(response, 200, 'application/json', JSON.stringify(body));
}

function send(response: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  response.writeHead(status, { ...SECURITY_HEADERS, ...extra, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
