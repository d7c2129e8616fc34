// Spans and log records a collector refuses for good (OTLP/HTTP 400 or 413), behind the
// real OTLP/HTTP exporters of OpenTelemetry JS and a real HTTP receiver: the refused record
// alone goes to <journalDir>/dead-letters.jsonl with the reason, and everything else,
// before and behind it, is delivered once. Before, the batch was retried for ever and every
// batch behind it waited in the journal. A receiver that refuses everything, or refuses for
// a reason that is not about the data (401), proves nothing: nothing is dead-lettered.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { DEAD_LETTER_FILE_NAME } from '../../src/export/DeadLetterFile.js';
import { OVERFLOW_SPAN_NAME } from '../../src/spanMarkers.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { OtlpCollector } from '../helpers/OtlpCollector.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
let collector: OtlpCollector;

beforeEach(async () => {
  collector = await OtlpCollector.start();
});
afterEach(async () => {
  await collector.close();
});

function deadLetters(journalDir: string): Record<string, unknown>[] {
  const path = join(journalDir, DEAD_LETTER_FILE_NAME);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
}

function journaling(journalDir: string, options: { maxExportBatchSize?: number; maxConcurrentExports?: number } = {}) {
  const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces` });
  const logExporter = new OTLPLogExporter({ url: `${collector.url}/v1/logs` });
  const processor = new JournalSpanProcessor({ exporter, logExporter, journalDir, recover: false, scheduledDelayMillis: 20, ...options });
  const provider = providerWith(processor, 'refusals');
  return { processor, provider, tracer: provider.getTracer('refusals') };
}

const names = (): string[] => collector.spans.map((span) => span.name).sort();

describe('a span the collector refuses for good (HTTP 400)', () => {
  it('is dead-lettered alone with the reason; the spans of its batch and behind it are delivered once', async () => {
    const journalDir = tempDir();
    collector.answer = ({ spans }) => (spans.some((span) => span.name === 'poison') ? { status: 400, body: 'span "poison" has an invalid attribute' } : undefined);
    const { processor, provider, tracer } = journaling(journalDir, { maxExportBatchSize: 64 });
    const expected: string[] = [];
    for (let i = 0; i < 40; i++) {
      const name = i === 17 ? 'poison' : `span-${String(i).padStart(2, '0')}`;
      tracer.startSpan(name).end();
      if (name !== 'poison') expected.push(name);
    }
    await processor.forceFlush();
    for (let i = 40; i < 45; i++) {
      tracer.startSpan(`span-${i}`).end();
      expected.push(`span-${i}`);
    }
    await processor.forceFlush();

    expect(names()).toEqual(expected.sort());
    const letters = deadLetters(journalDir);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ kind: 'span', name: 'poison', reason: 'HTTP 400 Bad Request' });
    expect(letters[0]!.error).toContain('span "poison" has an invalid attribute');
    expect(letters[0]).toHaveProperty('record.n', 'poison');
    expect(statSync(join(journalDir, DEAD_LETTER_FILE_NAME)).mode & 0o777).toBe(0o600);
    expect(processor.stats()).toMatchObject({ deadLetters: 1, journalBacklog: 0 });
    // The halving: about 2·log2(n) requests, then the span alone until its refusal is proven twice; not one per span.
    expect(collector.requests.length).toBeLessThanOrEqual(24);
    await provider.shutdown();
  });
});

describe('a batch larger than the collector takes (HTTP 413)', () => {
  it('is delivered in halves, every span once, and nothing is dead-lettered', async () => {
    const journalDir = tempDir();
    collector.answer = ({ spans }) => (spans.length > 8 ? { status: 413 } : undefined);
    const { processor, provider, tracer } = journaling(journalDir, { maxExportBatchSize: 64 });
    for (let i = 0; i < 40; i++) tracer.startSpan(`span-${i}`).end();
    await processor.forceFlush();
    expect(collector.spans).toHaveLength(40);
    expect(new Set(collector.spans.map((span) => span.spanId)).size).toBe(40);
    expect(collector.requests.filter((r) => r.status === 200).every((r) => r.spans <= 8)).toBe(true);
    expect(deadLetters(journalDir)).toEqual([]);
    expect(processor.stats()).toMatchObject({ deadLetters: 0, journalBacklog: 0 });
    await provider.shutdown();
  });
});

describe.each([
  ['refuses every request (400)', { status: 400, body: 'bad request' }],
  ['refuses for a reason not about the data (401)', { status: 401, body: 'unauthorized' }],
] as const)('a collector that %s', (_, refusal) => {
  it('proves nothing: no span is dead-lettered, they wait in the journal and go once it takes them', async () => {
    const journalDir = tempDir();
    collector.answer = () => refusal;
    const { processor, provider, tracer } = journaling(journalDir);
    for (let i = 0; i < 10; i++) tracer.startSpan(`span-${i}`).end();
    // Several attempts: for 400 each sends its parts (at most about 2·log2(n)), for 401 the whole batch.
    const requests = refusal.status === 400 ? 12 : 4;
    while (collector.requests.length < requests) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(deadLetters(journalDir)).toEqual([]);
    expect(processor.stats()).toMatchObject({ deadLetters: 0, journalBacklog: 10 });
    // Not about the data: never sent in parts.
    if (refusal.status === 401) expect(collector.requests.every((r) => r.spans === 10)).toBe(true);
    collector.answer = () => undefined;
    await processor.forceFlush();
    expect(names()).toEqual(Array.from({ length: 10 }, (_, i) => `span-${i}`).sort());
    expect(processor.stats()).toMatchObject({ deadLetters: 0, journalBacklog: 0 });
    await provider.shutdown();
  }, 30_000);
});

describe.each([
  ['the default maxConcurrentExports', undefined, 413, 'HTTP 413 Content Too Large'],
  ['maxConcurrentExports 1', 1, 400, 'HTTP 400 Bad Request'],
] as const)('a span refused for good alone in its batch (a quiet service: one span at a time), %s', (_, maxConcurrentExports, status, reason) => {
  it('does not hold the batches behind it: they are sent, bring the proof, and it is dead-lettered', async () => {
    const journalDir = tempDir();
    collector.answer = ({ spans }) => (spans.some((span) => span.name === 'poison') ? { status } : undefined);
    const { processor, provider, tracer } = journaling(journalDir, { maxConcurrentExports });
    tracer.startSpan('poison').end();
    while (collector.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    for (let i = 0; i < 10; i++) {
      tracer.startSpan(`later-${i}`).end();
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await processor.forceFlush();
    expect(names()).toEqual(Array.from({ length: 10 }, (_, i) => `later-${i}`).sort());
    expect(deadLetters(journalDir)).toMatchObject([{ kind: 'span', name: 'poison', reason }]);
    expect(processor.stats()).toMatchObject({ deadLetters: 1, journalBacklog: 0, spansExported: 10 });
    await provider.shutdown();
  });
});

describe('a log record refused for good, waiting for proof', () => {
  it('a refused log record followed by many batches of spans only, then one good line: everything goes, the record is dead-lettered', async () => {
    const journalDir = tempDir();
    collector.answer = ({ logs }) => (logs.some((log) => log.body === 'poison') ? { status: 400 } : undefined);
    const { processor, provider, tracer } = journaling(journalDir, { maxExportBatchSize: 4 });
    const loggerProvider = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
    const logger = loggerProvider.getLogger('refusals');
    logger.emit({ body: 'poison' });
    for (let i = 0; i < 40; i++) {
      tracer.startSpan(`span-${String(i).padStart(2, '0')}`).end();
      if (i % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    logger.emit({ body: 'a good line' });
    await processor.forceFlush();
    expect(collector.spans).toHaveLength(40);
    expect(collector.logs.map((log) => log.body)).toEqual(['a good line']);
    expect(deadLetters(journalDir)).toMatchObject([{ kind: 'log', record: { b: 'poison' } }]);
    expect(processor.stats()).toMatchObject({ deadLetters: 1, journalBacklog: 0 });
    await loggerProvider.shutdown();
    await provider.shutdown();
  });
});

describe('a trace endpoint that refuses every request (400) while the log endpoint takes everything', () => {
  it('dead-letters no span: what the log exporter takes is no proof about the span exporter', async () => {
    const journalDir = tempDir();
    collector.answer = ({ spans }) => (spans.length > 0 ? { status: 400, body: 'proxy: bad request' } : undefined);
    const { processor, provider, tracer } = journaling(journalDir);
    const loggerProvider = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
    const logger = loggerProvider.getLogger('refusals');
    tracer.startSpan('a good span').end();
    for (let i = 0; i < 5; i++) {
      logger.emit({ body: `line ${i}` });
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    // The log lines of later batches were taken (a line in the span's batch waits with it).
    while (collector.requests.filter((r) => r.spans > 0).length < 6 || collector.logs.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(deadLetters(journalDir)).toEqual([]);
    expect(processor.stats()).toMatchObject({ deadLetters: 0 });
    collector.answer = () => undefined;
    await processor.forceFlush();
    expect(names()).toEqual(['a good span']);
    expect(collector.logs.map((log) => log.body).sort()).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    await loggerProvider.shutdown();
    await provider.shutdown();
  }, 30_000);
});

describe('a log record the collector refuses for good', () => {
  it('is dead-lettered alone; the spans and the other log records are delivered once', async () => {
    const journalDir = tempDir();
    collector.answer = ({ logs }) => (logs.some((log) => log.body === 'poison') ? { status: 400 } : undefined);
    const { processor, provider, tracer } = journaling(journalDir);
    const loggerProvider = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: processor })] });
    const logger = loggerProvider.getLogger('refusals');
    for (let i = 0; i < 12; i++) logger.emit({ body: i === 5 ? 'poison' : `line ${i}` });
    tracer.startSpan('with the lines').end();
    await processor.forceFlush();
    expect(collector.logs.map((log) => log.body).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `line ${i}`).filter((l) => l !== 'line 5').sort());
    expect(names()).toEqual(['with the lines']);
    const letters = deadLetters(journalDir);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ kind: 'log', reason: 'HTTP 400 Bad Request', sequence: 5 });
    expect(letters[0]).toHaveProperty('record.b', 'poison');
    expect(processor.stats()).toMatchObject({ deadLetters: 1, journalBacklog: 0 });
    await loggerProvider.shutdown();
    await provider.shutdown();
  });
});

describe('recovery of a dead journal through a collector that refuses one span for good', () => {
  it('dead-letters that span, exports the rest, and removes the journal', async () => {
    const journalDir = tempDir();
    const dead = writeDeadJournal(journalDir, 30, { openEvery: 10 });
    collector.answer = ({ spans }) => (spans.some((span) => String(span.attributes.i) === '7') ? { status: 400 } : undefined);
    const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces` });
    const report = await recoverJournals({ journalDir, exporter });
    // The refused span counts as a dead letter, not as recovered.
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended - 1, spansCrashed: dead.open, deadLettered: 1, failures: [] });
    expect(collector.spans).toHaveLength(29);
    expect(collector.spans.some((span) => String(span.attributes.i) === '7')).toBe(false);
    expect(deadLetters(journalDir)).toMatchObject([{ kind: 'span', reason: 'HTTP 400 Bad Request', record: { a: { i: 7 } } }]);
    expect(existsSync(dead.writerDir)).toBe(false);
    await exporter.shutdown();
  });
});

describe('the overflow marker refused for good', () => {
  it('is dead-lettered without taking one of the application spans off spansExported', async () => {
    // A review: spansExported subtracted every dead-lettered position, the marker's too, so
    // two spans accepted and a refused marker read as one exported.
    const journalDir = tempDir();
    collector.answer = () => ({ status: 503 });
    const exporter = new OTLPTraceExporter({ url: `${collector.url}/v1/traces` });
    const processor = new JournalSpanProcessor({ exporter, journalDir, recover: false, scheduledDelayMillis: 20, maxJournalBytes: 8192, maxQueueSize: 1, maxExportBatchSize: 1 });
    const provider = providerWith(processor, 'refusals');
    const tracer = provider.getTracer('refusals');
    for (let i = 0; i < 60; i++) tracer.startSpan(`early-${i}`, { attributes: { pad: 'x'.repeat(200) } }).end();
    const dropped = processor.stats().spansDropped;
    expect(dropped).toBeGreaterThan(0);
    collector.answer = ({ spans }) => (spans.some((span) => span.name === OVERFLOW_SPAN_NAME) ? { status: 400, body: 'no markers here' } : undefined);
    for (let i = 0; i < 10; i++) {
      tracer.startSpan(`later-${i}`).end();
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    await processor.forceFlush();
    await expect.poll(() => deadLetters(journalDir).map((letter) => letter.name), { timeout: 20_000 }).toEqual([OVERFLOW_SPAN_NAME]);
    await processor.forceFlush();
    const delivered = new Set(names().filter((name) => name !== OVERFLOW_SPAN_NAME));
    // Dropped: at the full journal and queue, the early spans and perhaps a later one.
    expect(delivered.size).toBe(70 - processor.stats().spansDropped);
    expect(processor.stats()).toMatchObject({ spansExported: delivered.size, deadLetters: 1 });
    await provider.shutdown();
  }, 40_000);
});
