// The export loop on its own: memory queue in, exporter out, one AbortSignal to stop it.
// The shutdown race of issue #12 (export() after the exporter's shutdown, "export
// recovered" after giving up, a drop count lost at the deadline) shows here directly, as
// do the review's findings on a refused batch, a late SUCCESS and an idle loop (repros 16,
// 09, 05).
import { DiagLogLevel, diag, type DiagLogger } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { REFUSALS_BEFORE_DROP } from '../../src/export/BatchDelivery.js';
import { DropCounter } from '../../src/processor/DropCounter.js';
import { ExportLoop, REFUSED_SPANS_REASON } from '../../src/processor/ExportLoop.js';
import { MemorySpanQueue } from '../../src/processor/MemorySpanQueue.js';
import { OVERFLOW_SPAN_NAME } from '../../src/spanMarkers.js';
import { recordSpans, traceOf } from '../postgres/spanFixtures.js';

type Behaviour = 'succeed' | 'fail' | 'hang';

/** An exporter told how to answer, counting calls; `called(n)` resolves at the n-th call. */
class ScriptedExporter implements SpanExporter {
  behaviour: Behaviour;
  calls = 0;
  callsAfterShutdown = 0;
  isShutdown = false;
  readonly exported: ReadableSpan[] = [];
  private readonly waiting = new Map<number, () => void>();

  constructor(behaviour: Behaviour) {
    this.behaviour = behaviour;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.calls += 1;
    if (this.isShutdown) this.callsAfterShutdown += 1;
    this.waiting.get(this.calls)?.();
    if (this.behaviour === 'hang') return;
    const behaviour = this.behaviour;
    setImmediate(() => {
      if (behaviour === 'fail') return resultCallback({ code: ExportResultCode.FAILED, error: new Error('database down (test)') });
      this.exported.push(...spans);
      resultCallback({ code: ExportResultCode.SUCCESS });
    });
  }

  called(times: number): Promise<void> {
    if (this.calls >= times) return Promise.resolve();
    return new Promise((resolve) => this.waiting.set(times, resolve));
  }

  async shutdown(): Promise<void> {
    this.isShutdown = true;
  }
}

// At INFO, unlike helpers/diagLines: "export recovered" is an info line.
const messages: string[] = [];
beforeEach(() => {
  messages.length = 0;
  const record = (message: string) => messages.push(message);
  const logger: DiagLogger = { error: record, warn: record, info: record, debug: () => {}, verbose: () => {} };
  diag.setLogger(logger, DiagLogLevel.INFO);
});
afterEach(() => diag.disable());

interface LoopSettings {
  maxConcurrentExports?: number;
  maxExportBatchSize?: number;
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  /** Told at each pass of the loop that forms a batch. */
  onPass?: () => void;
}

function loopWith(exporter: SpanExporter, options: LoopSettings = {}) {
  const queue = new MemorySpanQueue(1000);
  const drops = new DropCounter();
  const controller = new AbortController();
  const loop = new ExportLoop({
    exporter,
    queue,
    drops,
    journal: () => undefined,
    pendingSpans: () => (options.onPass?.(), []),
    resource: () => resourceFromAttributes({ 'service.name': 'loop-test' }),
    maxExportBatchSize: options.maxExportBatchSize ?? 2,
    maxConcurrentExports: options.maxConcurrentExports ?? 2,
    scheduledDelayMillis: options.scheduledDelayMillis ?? 5,
    exportTimeoutMillis: options.exportTimeoutMillis ?? 60_000,
    signal: controller.signal,
  });
  loop.start();
  return { loop, queue, drops, controller };
}

/** Spans with these names, ended in this order. */
function spansNamed(names: string[]): Promise<ReadableSpan[]> {
  return recordSpans((tracer) => {
    for (const name of names) tracer.startSpan(name).end();
  });
}

/**
 * A collector that refuses for good every call carrying a span named 'poison' (an OTLP
 * collector's 413 for a span too large), and accepts every other; counts deliveries by span id.
 */
class RefusingExporter implements SpanExporter {
  readonly delivered = new Map<string, number>();
  readonly names = new Map<string, string>();
  readonly callSizes: number[] = [];
  /** Calls failing whatever they carry: an outage. */
  outageCalls = 0;
  refusals = 0;

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.callSizes.push(spans.length);
    setImmediate(() => {
      if (this.outageCalls > 0) {
        this.outageCalls -= 1;
        return resultCallback({ code: ExportResultCode.FAILED, error: new Error('connection refused (test)') });
      }
      if (spans.some((span) => span.name === 'poison')) {
        this.refusals += 1;
        return resultCallback({ code: ExportResultCode.FAILED, error: new Error('413 Payload Too Large (test)') });
      }
      for (const span of spans) {
        const id = span.spanContext().spanId;
        this.delivered.set(id, (this.delivered.get(id) ?? 0) + 1);
        this.names.set(id, span.name);
      }
      resultCallback({ code: ExportResultCode.SUCCESS });
    });
  }

  deliveredNames(): string[] {
    return [...this.names.values()];
  }

  async shutdown(): Promise<void> {}
}

/** Ends one ordinary span every few milliseconds until stopped: the traffic that shows the exporter works. */
function steadyTraffic(queue: MemorySpanQueue, loop: ExportLoop): { stop: () => Promise<string[]> } {
  const names: string[] = [];
  let stopped = false;
  const running = (async () => {
    for (let i = 0; !stopped; i++) {
      const name = `after-${i}`;
      names.push(name);
      for (const span of await spansNamed([name])) queue.offer(span);
      loop.notify();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      return names;
    },
  };
}

async function enqueue(queue: MemorySpanQueue, loop: ExportLoop, count: number): Promise<void> {
  for (const span of await traceOf(count, 'queued')) queue.offer(span);
  loop.notify();
}

test('a healthy exporter: stop() drains every queued span before it resolves, without an abort', async () => {
  const exporter = new ScriptedExporter('succeed');
  const { loop, queue } = loopWith(exporter);
  await enqueue(queue, loop, 7);
  await loop.stop();
  expect(exporter.exported).toHaveLength(7);
  expect(queue.settled).toBe(7);
  expect(await loop.flush(1000)).toBe(true);
});

test.each(['hang', 'fail'] as const)(
  'an exporter that %s: the abort ends stop(), no export() afterwards, nothing "recovered", queued spans said to be possibly lost',
  async (behaviour) => {
    const exporter = new ScriptedExporter(behaviour);
    const { loop, queue, controller } = loopWith(exporter, { maxConcurrentExports: 2 });
    await enqueue(queue, loop, 4);
    // Two batches in flight (hang), or retries under way (fail).
    await exporter.called(2);
    const stopped = loop.stop();
    controller.abort();
    await stopped;
    await exporter.shutdown();
    const callsAtShutdown = exporter.calls;
    // Anything the loop might still start would start from a timer or a late callback.
    loop.notify();
    await new Promise((resolve) => setImmediate(resolve));
    expect(exporter.calls).toBe(callsAtShutdown);
    expect(exporter.callsAfterShutdown).toBe(0);
    expect(queue.settled).toBe(4);
    expect(messages.some((m) => m.includes('stop deadline passed') && m.includes('may be lost'))).toBe(true);
    expect(messages.some((m) => m.includes('export recovered'))).toBe(false);
  },
);

test('a flush waiting when the loop is aborted resolves false at once, and a flush after the stop does not wait', async () => {
  const exporter = new ScriptedExporter('hang');
  const { loop, queue, controller } = loopWith(exporter);
  await enqueue(queue, loop, 2);
  // An hour: only the abort can end this flush within the test's timeout.
  const flushing = loop.flush(3_600_000);
  await exporter.called(1);
  const stopped = loop.stop();
  controller.abort();
  expect(await flushing).toBe(false);
  await stopped;
  await enqueue(queue, loop, 1);
  expect(await loop.flush(3_600_000)).toBe(false);
});

test('a drop episode whose marker was not exported by the deadline goes back to the drop counter', async () => {
  const exporter = new ScriptedExporter('fail');
  const { loop, drops, controller } = loopWith(exporter);
  drops.add('test: journal full and memory queue full');
  drops.add('test: journal full and memory queue full');
  loop.notify();
  await exporter.called(2);
  const stopped = loop.stop();
  controller.abort();
  await stopped;
  expect(drops.take()?.count).toBe(2);
});

test('the overflow marker is exported once the exporter recovers, and "export recovered" is said then', async () => {
  const exporter = new ScriptedExporter('fail');
  const { loop, drops } = loopWith(exporter);
  drops.add('test: memory queue full');
  loop.notify();
  await exporter.called(2);
  exporter.behaviour = 'succeed';
  await loop.stop();
  expect(exporter.exported.map((span) => span.name)).toEqual([OVERFLOW_SPAN_NAME]);
  expect(exporter.exported[0].resource.attributes['service.name']).toBe('loop-test');
  expect(messages).toContain('otel-blackbox: export recovered');
});

test.each([
  { label: 'one span among eight of a batch', concurrency: 2, first: ['a', 'b', 'c', 'poison', 'd', 'e', 'f', 'g'] },
  { label: 'a batch of that span alone, under maxConcurrentExports 1', concurrency: 1, first: ['poison'] },
])('$label that the exporter refuses for good while it accepts others: dropped, counted and said; every other span delivered once', async ({ concurrency, first }) => {
  const exporter = new RefusingExporter();
  const { loop, queue, drops } = loopWith(exporter, { maxConcurrentExports: concurrency, maxExportBatchSize: 8 });
  const firstSpans = await spansNamed(first);
  for (const span of firstSpans) queue.offer(span);
  loop.notify();
  const traffic = steadyTraffic(queue, loop);
  let after: string[] = [];
  try {
    await expect.poll(() => drops.byReason[REFUSED_SPANS_REASON], { timeout: 20_000, interval: 20 }).toBe(1);
  } finally {
    after = await traffic.stop();
  }
  await loop.stop();
  const poison = firstSpans.find((span) => span.name === 'poison')!;
  expect(exporter.delivered.has(poison.spanContext().spanId)).toBe(false);
  const expected = [...first.filter((name) => name !== 'poison'), ...after];
  expect(exporter.deliveredNames().filter((name) => name !== OVERFLOW_SPAN_NAME).sort()).toEqual(expected.sort());
  expect([...exporter.delivered.values()].every((times) => times === 1)).toBe(true);
  expect(drops.total).toBe(1);
  expect(loop.spansExported).toBe(expected.length + 1);
  // The drop is visible where the spans go, and said with the span's ids.
  expect(exporter.deliveredNames()).toContain(OVERFLOW_SPAN_NAME);
  expect(messages.some((m) => m.includes(poison.spanContext().spanId) && m.includes('413 Payload Too Large'))).toBe(true);
});

test('an outage, every call failing for a while: nothing is split, nothing dropped, every span delivered once when it ends', async () => {
  const exporter = new RefusingExporter();
  const { loop, queue, drops } = loopWith(exporter, { maxExportBatchSize: 4 });
  await enqueue(queue, loop, 4);
  await expect.poll(() => exporter.delivered.size).toBe(4);
  // Down right after a success: the evidence a refused batch is judged by is the freshest.
  exporter.outageCalls = 2 * REFUSALS_BEFORE_DROP;
  await enqueue(queue, loop, 12);
  await expect.poll(() => exporter.outageCalls, { timeout: 30_000 }).toBe(0);
  await loop.stop();
  expect(drops.total).toBe(0);
  expect(exporter.delivered.size).toBe(16);
  expect([...exporter.delivered.values()].every((times) => times === 1)).toBe(true);
  expect(exporter.callSizes.every((size) => size === 4)).toBe(true);
});

test('a SUCCESS that comes after exportTimeoutMillis counts: the batch is sent once, never two calls at once under maxConcurrentExports 1', async () => {
  const delivered = new Map<string, number>();
  let running = 0;
  let mostAtOnce = 0;
  const slowExporter: SpanExporter = {
    export(spans, resultCallback) {
      running += 1;
      mostAtOnce = Math.max(mostAtOnce, running);
      setTimeout(() => {
        for (const span of spans) delivered.set(span.spanContext().spanId, (delivered.get(span.spanContext().spanId) ?? 0) + 1);
        running -= 1;
        resultCallback({ code: ExportResultCode.SUCCESS });
      }, 150);
    },
    shutdown: async () => {},
  };
  const { loop, queue } = loopWith(slowExporter, { maxConcurrentExports: 1, exportTimeoutMillis: 50 });
  await enqueue(queue, loop, 6);
  expect(await loop.flush(20_000)).toBe(true);
  expect(delivered.size).toBe(6);
  expect([...delivered.values()]).toEqual([1, 1, 1, 1, 1, 1]);
  expect(mostAtOnce).toBe(1);
  expect(loop.spansExported).toBe(6);
  // Slow, not failed: counted among the failures and said once, not sent again.
  expect(loop.exportFailures).toBeGreaterThanOrEqual(1);
  expect(messages.filter((m) => m.includes('has not called back'))).toHaveLength(1);
  await loop.stop();
});

test('an export that never calls back is given up after 10 × exportTimeoutMillis, said, and its batch sent again', async () => {
  const exporter = new ScriptedExporter('hang');
  let saidAtSecondCall: string[] = [];
  void exporter.called(2).then(() => (saidAtSecondCall = [...messages]));
  const { loop, queue } = loopWith(exporter, { maxConcurrentExports: 1, exportTimeoutMillis: 20 });
  await enqueue(queue, loop, 2);
  await exporter.called(1);
  exporter.behaviour = 'succeed';
  expect(await loop.flush(20_000)).toBe(true);
  expect(exporter.calls).toBe(2);
  expect(exporter.exported).toHaveLength(2);
  // Not sent again at the timeout, only once given up.
  expect(saidAtSecondCall.some((m) => m.includes('has not called back after 20 ms'))).toBe(true);
  expect(saidAtSecondCall.some((m) => m.includes('did not call back within 200 ms') && m.includes('sent again'))).toBe(true);
  await loop.stop();
});

test('idle with scheduledDelayMillis 0, the loop sleeps instead of spinning, and still exports what comes', async () => {
  let passes = 0;
  const exporter = new ScriptedExporter('succeed');
  const { loop, queue } = loopWith(exporter, { scheduledDelayMillis: 0, onPass: () => (passes += 1) });
  await enqueue(queue, loop, 1);
  await expect.poll(() => exporter.exported.length).toBe(1);
  const before = passes;
  // The window the passes are counted in: 0 ms timers made several hundred passes in it.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(passes - before).toBeLessThan(40);
  // A span ended without a notify() is still picked up by the idle tick.
  for (const span of await spansNamed(['late'])) queue.offer(span);
  await expect.poll(() => exporter.exported.length).toBe(2);
  await loop.stop();
});
