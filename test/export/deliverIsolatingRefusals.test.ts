// The isolation of refused records, one batch against scripted exporters: the cases a
// review found (a late success with log records waiting, a timeout inside a halving, a
// receiver that refuses everything for a while or alternates, the call budget running out).
// A batch is settled only when every record is delivered or dead-lettered, never sent twice
// while a call of it may still succeed, never dead-lettered without proof.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { Delivery, exportWithLogs, type DeadLetters } from '../../src/export/exportWithLogs.js';
import { retryWithBackoff } from '../../src/export/exportWithRetry.js';
import type { KeyedLogRecord } from '../../src/export/SpansAndLogs.js';

type Item = ReadableSpan & { id: number };
const refusal = (status: number): Error => Object.assign(new Error('Bad Request'), { code: status });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const items = (count: number) => (): Item[] => Array.from({ length: count }, (_, id) => ({ id }) as Item);

function spanExporter(answer: (spans: Item[], call: number) => ExportResult | Promise<ExportResult>): SpanExporter & { received: number[]; calls: number } {
  const exporter = {
    received: [] as number[],
    calls: 0,
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      exporter.calls += 1;
      void Promise.resolve(answer(spans as Item[], exporter.calls)).then((result) => {
        if (result.code === ExportResultCode.SUCCESS) exporter.received.push(...(spans as Item[]).map((span) => span.id));
        done(result);
      });
    },
    shutdown: async () => {},
  };
  return exporter;
}

function deadLetters(): DeadLetters & { kept: unknown[] } {
  const kept: unknown[] = [];
  return { kept, span: async (span) => void kept.push((span as Item).id), log: async (log) => void kept.push(log.sequence) };
}

const OK: ExportResult = { code: ExportResultCode.SUCCESS };
const REFUSED = (status = 400): ExportResult => ({ code: ExportResultCode.FAILED, error: refusal(status) });

function deliver(exporter: SpanExporter, count: number, letters = deadLetters(), options: { logExporter?: LogRecordExporter; logs?: KeyedLogRecord[]; timeoutMillis?: number } = {}) {
  const delivery = new Delivery(letters);
  const batchLogs = options.logs === undefined ? undefined : { logs: options.logs, openSpans: [] };
  const attempt = () => exportWithLogs(exporter, options.logExporter, items(count), count, batchLogs, options.timeoutMillis ?? 1000, undefined, delivery);
  return { delivery, letters, outcome: retryWithBackoff(attempt, { maxAttempts: 12 }) };
}

describe('a batch is settled only when each record is delivered or dead-lettered', () => {
  it('a receiver refusing everything for a while, then taking all: every span delivered once, none dead-lettered', async () => {
    const exporter = spanExporter((_, call) => (call <= 8 ? REFUSED() : OK));
    const { outcome, letters } = deliver(exporter, 8);
    expect((await outcome).ok).toBe(true);
    expect(exporter.received.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(letters.kept).toEqual([]);
  });

  it('a receiver that alternates between refusing everything and taking everything: nothing dead-lettered', async () => {
    const exporter = spanExporter((_, call) => (call % 2 === 1 ? REFUSED() : OK));
    const { outcome, letters } = deliver(exporter, 4);
    expect((await outcome).ok).toBe(true);
    expect(exporter.received.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(letters.kept).toEqual([]);
  });

  it('one span refused wherever it is sent: dead-lettered alone after two proven refusals, the rest delivered once', async () => {
    for (const poison of [0, 5, 11]) {
      const exporter = spanExporter((spans) => (spans.some((span) => span.id === poison) ? REFUSED() : OK));
      const { outcome, letters, delivery } = deliver(exporter, 12);
      expect((await outcome).ok).toBe(true);
      expect(exporter.received.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i).filter((i) => i !== poison));
      expect(letters.kept).toEqual([poison]);
      expect(delivery.spans.deadLettered).toBe(1);
    }
  });

  it('a timeout inside a halving: nothing is sent again until that call has answered, and every span arrives once', async () => {
    let slow = true;
    const exporter = spanExporter(async (spans) => {
      if (spans.length > 4) return REFUSED(413);
      if (slow && spans.some((span) => span.id === 0)) {
        slow = false;
        await sleep(380);
      }
      return OK;
    });
    const { outcome } = deliver(exporter, 8, deadLetters(), { timeoutMillis: 200 });
    expect((await outcome).ok).toBe(true);
    await sleep(500);
    expect(exporter.received.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('a late success of the spans: the log records are still sent before the batch counts as delivered', async () => {
    const exporter = spanExporter(async () => {
      await sleep(80);
      return OK;
    });
    const logCalls: number[] = [];
    const logExporter: LogRecordExporter = {
      export: (records, done) => {
        logCalls.push(records.length);
        done(OK);
      },
      shutdown: async () => {},
      forceFlush: async () => {},
    };
    const logs = [{ logRecord: { body: 'line' }, writerId: 'w', sequence: 1 }] as unknown as KeyedLogRecord[];
    const { outcome } = deliver(exporter, 2, deadLetters(), { logExporter, logs, timeoutMillis: 50 });
    expect((await outcome).ok).toBe(true);
    expect(logCalls).toEqual([1]);
    expect(exporter.received.sort()).toEqual([0, 1]);
  });

  it('a dead letter that cannot be written (a disk error): the span stays pending, and is kept once the file can be written', async () => {
    let failWrites = 2;
    const kept: number[] = [];
    const letters: DeadLetters = {
      span: async (span) => {
        if (failWrites-- > 0) throw new Error('EIO (test)');
        kept.push((span as Item).id);
      },
      log: async () => {},
    };
    const exporter = spanExporter((spans) => (spans.some((span) => span.id === 2) ? REFUSED() : OK));
    const { outcome } = deliver(exporter, 4, letters as DeadLetters & { kept: unknown[] });
    expect((await outcome).ok).toBe(true);
    expect(kept).toEqual([2]);
    expect(exporter.received.sort()).toEqual([0, 1, 3]);
  });
});
