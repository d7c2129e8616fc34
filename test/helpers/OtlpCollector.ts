// A real OTLP/HTTP (JSON) receiver on 127.0.0.1, for the real OTLP exporters of
// OpenTelemetry JS: it keeps the spans and log records it accepts, and answers each request
// as `answer` says (200, or a status such as 400 or 413 with a body), as a collector that
// refuses some data would.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  name: string;
  spanId: string;
  attributes: Record<string, unknown>;
}

export interface ReceivedLog {
  body: unknown;
}

export type Answer = (request: { spans: ReceivedSpan[]; logs: ReceivedLog[] }) => { status: number; body?: string } | undefined;

export class OtlpCollector {
  readonly spans: ReceivedSpan[] = [];
  readonly logs: ReceivedLog[] = [];
  /** Each request's span and log record count, and the status it got. */
  readonly requests: { spans: number; logs: number; status: number }[] = [];
  answer: Answer = () => undefined;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpCollector> {
    const collector: OtlpCollector = new OtlpCollector(
      createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const document = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
          const spans = spansOf(document);
          const logs = logsOf(document);
          const answer = collector.answer({ spans, logs }) ?? { status: 200 };
          collector.requests.push({ spans: spans.length, logs: logs.length, status: answer.status });
          if (answer.status === 200) {
            collector.spans.push(...spans);
            collector.logs.push(...logs);
          }
          response.writeHead(answer.status, { 'content-type': 'application/json' });
          response.end(answer.body ?? '{}');
        });
      }),
    );
    await new Promise<void>((resolve) => collector.#server.listen(0, '127.0.0.1', resolve));
    return collector;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

interface KeyValue {
  key: string;
  value: Record<string, unknown>;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map(({ key, value }) => [key, Object.values(value)[0]]));
}

function spansOf(document: { resourceSpans?: { scopeSpans?: { spans?: { name: string; spanId: string; attributes?: KeyValue[] }[] }[] }[] }): ReceivedSpan[] {
  return (document.resourceSpans ?? []).flatMap((r) =>
    (r.scopeSpans ?? []).flatMap((s) => (s.spans ?? []).map((span) => ({ name: span.name, spanId: span.spanId, attributes: attributesOf(span.attributes) }))),
  );
}

function logsOf(document: { resourceLogs?: { scopeLogs?: { logRecords?: { body?: Record<string, unknown> }[] }[] }[] }): ReceivedLog[] {
  return (document.resourceLogs ?? []).flatMap((r) =>
    (r.scopeLogs ?? []).flatMap((s) => (s.logRecords ?? []).map((log) => ({ body: log.body === undefined ? undefined : Object.values(log.body)[0] }))),
  );
}
