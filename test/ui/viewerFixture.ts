// What the viewer's tests share: real rows (a real child process that crashes, recovered
// through the public API; a big trace through the public exporter) and a running viewer.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Span } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider as BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { join } from 'node:path';
import { expect } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { uiCommand } from '../../src/cli/commands/uiCommand.js';
import { asStarted } from '../../src/export/exportWithLogs.js';
import { runFixture } from '../helpers/childProcess.js';

export const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">';
/** What the crashing shop logs last, outside any span, before it dies. */
export const LAST_LINE = 'payment gateway connection pool exhausted (8 of 8 in use)';

/** Runs the crashing shop as a child process, then recovers its journal: crash records with real reasons. */
export async function seedShopCrash(databaseUrl: string, schema: string, dir: string): Promise<{ traceId: string; hostileSpanId: string }> {
  const journalDir = join(dir, 'journal');
  const child = runFixture(join(import.meta.dirname, 'fixtures/crashingShop.mjs'), { DATABASE_URL: databaseUrl, SCHEMA: schema, JOURNAL_DIR: journalDir, HOSTILE_NAME, LAST_LINE });
  const ready = await child.ready;
  const exit = await child.exited;
  expect(exit.code).not.toBe(0);
  const exporter = new PostgresSpanExporter({ connectionString: databaseUrl, schema });
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report.spansCrashed).toBe(3);
  } finally {
    await exporter.shutdown();
  }
  return { traceId: ready.traceId!, hostileSpanId: ready.hostile! };
}

/**
 * A trace that ended without a crash but failed three levels down: 'checkout' > 'reserve
 * stock' > 'charge card' (status ERROR), beside 'load cart' (OK). Service 'shop-errors'.
 */
export async function seedErrorTrace(databaseUrl: string, schema: string): Promise<{ traceId: string; spanIds: Record<string, string> }> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema }), durability: 'none' });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop-errors' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('errors');
  const spanIds: Record<string, string> = {};
  const started = (name: string, parent?: Span) => {
    const span = tracer.startSpan(name, {}, parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT);
    spanIds[name] = span.spanContext().spanId;
    return span;
  };
  const root = started('checkout');
  started('load cart', root).end();
  const reserve = started('reserve stock', root);
  started('charge card', reserve).setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' }).end();
  reserve.end();
  root.end();
  await provider.shutdown();
  return { traceId: root.spanContext().traceId, spanIds };
}

/** One trace of `count` spans, nested up to ~10 levels, exported through the public processor. */
export async function seedBigTrace(databaseUrl: string, schema: string, count: number): Promise<string> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema }), durability: 'none', maxQueueSize: count + 10, maxExportBatchSize: Math.min(1000, count + 10) });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'batch-importer' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('big-trace');
  const root = tracer.startSpan('import catalogue');
  const open: Span[] = [root];
  const all: Span[] = [];
  for (let i = 1; i < count; i++) {
    // A parent among the last few open spans: a realistic mix of depth and breadth.
    const parent = open[Math.max(0, open.length - 1 - (i % 3))]!;
    const span = tracer.startSpan(`item ${i}`, { attributes: { i } }, trace.setSpan(ROOT_CONTEXT, parent));
    all.push(span);
    if (i % 4 === 0 && open.length < 10) open.push(span);
    else if (open.length > 1 && i % 7 === 0) open.pop()!.end();
  }
  for (const span of all) if (span.isRecording()) span.end();
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
  return root.spanContext().traceId;
}

/** `count` traces of one span each, of service 'cron', through the public exporter. */
export async function seedSmallTraces(databaseUrl: string, schema: string, count: number): Promise<void> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema }), durability: 'none', maxQueueSize: count + 10, maxExportBatchSize: count + 10 });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'cron' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('small-traces');
  for (let i = 0; i < count; i++) tracer.startSpan(`tick ${i}`).end();
  await provider.shutdown();
}

/** One ended span with these attributes, through the public processor and exporter. */
export async function seedSpanWithAttributes(databaseUrl: string, schema: string, attributes: Attributes): Promise<{ traceId: string; spanId: string }> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema }), durability: 'none' });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'copycat' }), spanProcessors: [processor] });
  const span = provider.getTracer('copycat').startSpan('copies the markers', { attributes }, ROOT_CONTEXT);
  span.end();
  await provider.shutdown();
  return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
}

/** The schema URLs the service behind a gateway gives its resource and its tracer. */
export const BEHIND_SCHEMA_URLS = { resource: 'https://opentelemetry.io/schemas/1.26.0', scope: 'https://opentelemetry.io/schemas/1.27.0' };

/**
 * A service behind a gateway, as most are: its server span's parent came in a
 * `traceparent` (remote), so it has no span without a parent. Service 'orders'.
 */
export async function seedServiceBehindGateway(databaseUrl: string, schema: string): Promise<{ traceId: string; serverSpanId: string; parentSpanId: string }> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema }), durability: 'none' });
  const resource = resourceFromAttributes({ 'service.name': 'orders' }, { schemaUrl: BEHIND_SCHEMA_URLS.resource });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  const tracer = provider.getTracer('orders-http', '2.0.0', { schemaUrl: BEHIND_SCHEMA_URLS.scope });
  const received = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true };
  const server = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER }, trace.setSpanContext(ROOT_CONTEXT, received));
  tracer.startSpan('SELECT orders', {}, trace.setSpan(ROOT_CONTEXT, server)).end();
  server.end();
  await provider.shutdown();
  return { traceId: received.traceId, serverSpanId: server.spanContext().spanId, parentSpanId: received.spanId };
}

/**
 * A trace still in flight: its root exported as a 'started' row (the state marker the
 * exporter stores, as the processor does for long-running spans), a child that ended.
 */
export async function seedInFlightTrace(databaseUrl: string, schema: string): Promise<string> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema }), durability: 'none' });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'reports' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('in-flight');
  const t0 = Date.now();
  const root = tracer.startSpan('GET /report', { startTime: t0 });
  const child = tracer.startSpan('render pdf', { startTime: t0 + 5 }, trace.setSpan(ROOT_CONTEXT, root));
  child.end(t0 + 40);
  await provider.shutdown();
  // The root, still running, as the processor exports a long-running span.
  const exporter = new PostgresSpanExporter({ connectionString: databaseUrl, schema });
  const result = await new Promise<ExportResult>((resolve) => exporter.export([asStarted(root as unknown as ReadableSpan)], resolve));
  await exporter.shutdown();
  expect(result.code).toBe(ExportResultCode.SUCCESS);
  return root.spanContext().traceId;
}

/** The scope attributes of the 'billing-audit' logger (seedScopedLogs): user data, one value written as HTML. */
export const SCOPE_ATTRIBUTES = { tenant: 'acme', 'deployment.ring': 2, note: '<img src=x onerror=alert(1)>' };

/**
 * Log records of two loggers, through the public processors: 'billing-audit' 3.1.0 with
 * SCOPE_ATTRIBUTES and 'billing-plain' 1.0.0 without, each a line in the span 'settle
 * invoice' and a line outside any span. `migrate: false` writes to the schema as it is
 * (one older than migration 8: without the scope attributes). Service 'billing-scoped'.
 */
export async function seedScopedLogs(databaseUrl: string, schema: string, journalDir: string, { migrate = true } = {}): Promise<{ traceId: string; spanId: string }> {
  const processor = new JournalSpanProcessor({ exporter: new PostgresSpanExporter({ connectionString: databaseUrl, schema, migrate }), journalDir, recover: false, scheduledDelayMillis: 10 });
  const resource = resourceFromAttributes({ 'service.name': 'billing-scoped' });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [processor] });
  const loggers = new LoggerProvider({ resource, processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
  // The options' type differs between the SDK lines (see JournalLogRecordProcessor.test.ts).
  const audit = loggers.getLogger('billing-audit', '3.1.0', { attributes: SCOPE_ATTRIBUTES } as never);
  const plain = loggers.getLogger('billing-plain', '1.0.0');
  const span = provider.getTracer('billing').startSpan('settle invoice', {}, ROOT_CONTEXT);
  const inSpan = trace.setSpan(ROOT_CONTEXT, span);
  audit.emit({ body: 'invoice settled', severityNumber: SeverityNumber.INFO, severityText: 'INFO', context: inSpan });
  plain.emit({ body: 'plain line in the span', severityNumber: SeverityNumber.INFO, severityText: 'INFO', context: inSpan });
  audit.emit({ body: 'audit line outside any span', severityNumber: SeverityNumber.WARN, severityText: 'WARN', context: ROOT_CONTEXT });
  plain.emit({ body: 'plain line outside any span', severityNumber: SeverityNumber.WARN, severityText: 'WARN', context: ROOT_CONTEXT });
  span.end();
  await loggers.shutdown();
  await provider.shutdown();
  return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
}

export interface RunningViewer {
  url: string;
  out: string[];
  err: string[];
  stop: () => Promise<number>;
}

/** Runs `otel-blackbox ui` in-process (as the CLI does) on a free port. */
export async function startViewer(args: string[]): Promise<RunningViewer> {
  const out: string[] = [];
  const err: string[] = [];
  const stopper = new AbortController();
  let listening!: (url: string) => void;
  const url = new Promise<string>((resolve) => (listening = resolve));
  const exit = uiCommand(['--port', '0', ...args], { out: (line) => out.push(line), err: (line) => err.push(line), interactive: false }, { listening, stop: stopper.signal });
  const first = await Promise.race([url, exit.then((code) => { throw new Error(`ui exited with ${code}: ${err.join('\n')}`); })]);
  return {
    url: first,
    out,
    err,
    stop: () => {
      stopper.abort();
      return exit;
    },
  };
}
