// The journal of a dead writer, made in-process: a JournalWriter with the identity of a
// pid that cannot exist (above Linux's pid_max of 2^22) is written to and abandoned
// without close(), as a killed process leaves it. Nothing in it is committed.
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';

const DEAD_PID = 2 ** 22 + 7;

export interface DeadJournal {
  writerDir: string;
  bytes: number;
  ended: number;
  open: number;
  logs: number;
}

/**
 * `logs`: that many log records too, one inside each of the first spans (default none).
 * `lastLogTimestamp`: one more log record at the end, inside the first span, with this
 * timestamp (milliseconds, as the application may give it: any number).
 */
export function writeDeadJournal(
  journalDir: string,
  spans: number,
  options: {
    openEvery?: number;
    padding?: number;
    logs?: number;
    lastLogTimestamp?: number;
    /** That record's observed time (milliseconds; default: when it is emitted). */
    lastLogObservedAt?: number;
    /** One more heartbeat at the end, dated this (a clock that was ahead). */
    heartbeatAtMs?: number;
    /** Records written as they are at the end, their checksums holding: [type, JSON text]. */
    rawRecords?: [number, string][];
    /** The destination its headers name (as a PostgresSpanExporter's processor records it). */
    destination?: string;
    /** The class of an exporter that names no destination, as its processor records it. */
    noDestination?: string;
    /** A new resource (a TracerProvider per job: 40 attributes, ~2.7 KB) every this many spans; default one for all. */
    resourceEvery?: number;
    /** The writer id, which names its directory (default one fixed id: one dead journal per journalDir). */
    writerId?: string;
    /** Default 8 MiB. */
    maxSegmentBytes?: number;
    /** The host its headers name (default this one's): another one's writer is judged by its silence alone. */
    hostname?: string;
    /** Its logger's scope attributes (`getLogger(name, version, { attributes })`); default none. */
    loggerAttributes?: Record<string, string | number | boolean>;
  } = {},
): DeadJournal {
  const openEvery = options.openEvery ?? 10;
  const writer = new JournalWriter({
    journalDir,
    identity: { ...currentWriterIdentity(), ...(options.hostname === undefined ? {} : { hostname: options.hostname }), pid: DEAD_PID, procStartTicks: '1', writerId: options.writerId ?? `w${'0'.repeat(9)}-${DEAD_PID}-1-${'ab'.repeat(8)}` },
    durability: 'process',
    maxSegmentBytes: options.maxSegmentBytes ?? 8 * 1024 * 1024,
    // Every segment as large, the first too: the tests count segments.
    firstSegmentBytes: options.maxSegmentBytes ?? 8 * 1024 * 1024,
    maxJournalBytes: 8 * 1024 ** 3,
    groupCommitMillis: 10,
    heartbeatIntervalMs: 1000,
    destination: options.destination,
    noDestination: options.noDestination,
    // This process stays alive: the dead writer is faked by its identity, so no lock.
    lock: false,
  });
  const processor = {
    onStart: (span: Span) => void writer.appendStart(span),
    onEnd: (span: ReadableSpan) => void writer.appendEnd(span),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const tracerWith = (attributes: Record<string, string | number>) =>
    new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'dead-writer', ...attributes }), spanProcessors: [processor] }).getTracer('dead-writer');
  const jobResource = (job: number) => Object.fromEntries([['job.id', job], ...Array.from({ length: 40 }, (_, k) => [`job.detail.${k}`, `${job}:${'d'.repeat(60)}`])]);
  let tracer = tracerWith({});
  const logger = new LoggerProvider({
    processors: [{ onEmit: (record) => void writer.appendLog(record), forceFlush: async () => {}, shutdown: async () => {} }],
  }).getLogger('dead-writer', undefined, options.loggerAttributes === undefined ? undefined : ({ attributes: options.loggerAttributes } as never));
  const logs = Math.min(options.logs ?? 0, spans);
  const padding = 'x'.repeat(options.padding ?? 0);
  let open = 0;
  let first: Span | undefined;
  for (let i = 0; i < spans; i++) {
    if (options.resourceEvery !== undefined && i % options.resourceEvery === 0) tracer = tracerWith(jobResource(i / options.resourceEvery));
    const span = tracer.startSpan('GET /orders/:id', { attributes: { i, padding, 'http.route': '/orders/:id' } }) as Span;
    first ??= span;
    span.addEvent('cache miss', { key: `order:${i}` });
    if (i < logs) logger.emit({ body: `order ${i} looked up`, context: trace.setSpan(context.active(), span) });
    if (i % openEvery === 0) open += 1;
    else span.end();
  }
  if (options.lastLogTimestamp !== undefined) {
    logger.emit({
      body: 'the last line',
      timestamp: options.lastLogTimestamp,
      ...(options.lastLogObservedAt === undefined ? {} : { observedTimestamp: options.lastLogObservedAt }),
      context: trace.setSpan(context.active(), first!),
    });
  }
  if (options.heartbeatAtMs !== undefined) {
    const now = Date.now;
    Date.now = () => options.heartbeatAtMs!;
    try {
      writer.appendHeartbeat();
    } finally {
      Date.now = now;
    }
  }
  for (const [type, json] of options.rawRecords ?? []) (writer as unknown as { writeRecord(type: number, json: string): boolean }).writeRecord(type, json);
  const bytes = readdirSync(writer.writerDir).reduce((sum, name) => sum + statSync(join(writer.writerDir, name)).size, 0);
  return { writerDir: writer.writerDir, bytes, ended: spans - open, open, logs: logs + (options.lastLogTimestamp === undefined ? 0 : 1) };
}

/**
 * Dates a journal's files and directory `ms`, until they stay so: pages the writer asked to
 * have faulted in ahead (a thread-pool job) date a mapped segment when the job runs.
 */
export async function silentSince(writerDir: string, ms: number): Promise<void> {
  const paths = () => [writerDir, ...readdirSync(writerDir).map((name) => join(writerDir, name))];
  for (let attempt = 0; attempt < 100; attempt++) {
    for (const path of paths()) utimesSync(path, ms / 1000, ms / 1000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (paths().every((path) => Math.abs(statSync(path).mtimeMs - ms) < 1)) return;
  }
  throw new Error(`${writerDir} kept changing`);
}
