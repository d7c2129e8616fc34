// How a batch reaches an exporter that takes log records with spans: as a function that
// makes the spans only when the exporter says it takes one (PostgresSpanExporter); an
// exporter written against SpansAndLogs as it was (an array) still gets an array.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { exportWithLogs } from '../../src/export/exportWithLogs.js';
import type { KeyedLogRecord, SpansAndLogs, SpansAndLogsExporter } from '../../src/export/SpansAndLogs.js';
import { traceOf } from '../postgres/spanFixtures.js';

class BatchRecorder implements SpansAndLogsExporter {
  readonly received: SpansAndLogs['spans'][] = [];
  constructor(readonly takesSpanMaker?: boolean) {}
  exportBatch(batch: SpansAndLogs, resultCallback: (result: ExportResult) => void): void {
    this.received.push(batch.spans);
    resultCallback({ code: ExportResultCode.SUCCESS });
  }
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.exportBatch({ spans, logs: [] }, resultCallback);
  }
  async shutdown(): Promise<void> {}
}

test('an exporter that takes a span maker gets the function, and makes the spans when it wants them', async () => {
  const spans = await traceOf(3, 's');
  let made = 0;
  const exporter = new BatchRecorder(true);
  const outcome = await exportWithLogs(exporter, undefined, () => (made++, [...spans]), spans.length, undefined, 5_000);
  expect(outcome).toEqual({ ok: true });
  expect(made).toBe(0);
  const maker = exporter.received[0] as () => ReadableSpan[];
  expect(typeof maker).toBe('function');
  expect(maker().map((s) => s.name)).toEqual(spans.map((s) => s.name));
  expect(made).toBe(1);
});

test('any other exporter of spans and logs gets the spans as an array, made once', async () => {
  const spans = await traceOf(2, 's');
  let made = 0;
  const exporter = new BatchRecorder();
  await exportWithLogs(exporter, undefined, () => (made++, [...spans]), spans.length, undefined, 5_000);
  expect(made).toBe(1);
  expect(Array.isArray(exporter.received[0])).toBe(true);
  expect((exporter.received[0] as ReadableSpan[]).map((s) => s.name)).toEqual(spans.map((s) => s.name));
});

test('a logExporter that throws fails the batch: it never reaches the host as an uncaught exception', async () => {
  // Behind a span exporter that calls back later (OTLP exporters do, from a promise or a
  // timer), logExporter.export() ran inside that callback, outside every guard of ours.
  const spans = await traceOf(1, 's');
  const spanExporter = {
    export: (_spans: ReadableSpan[], done: (result: ExportResult) => void) => void setTimeout(() => done({ code: ExportResultCode.SUCCESS }), 1),
    shutdown: async () => {},
  };
  const logExporter = {
    export: () => {
      throw new Error('log exporter bug');
    },
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  const logs = [{ logRecord: {} as KeyedLogRecord['logRecord'], writerId: 'w', sequence: 0 }];
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => void uncaught.push(error);
  process.prependListener('uncaughtException', onUncaught);
  try {
    const outcome = await exportWithLogs(spanExporter, logExporter, () => spans, spans.length, { logs, openSpans: [] }, 5_000);
    expect(outcome).toMatchObject({ ok: false, error: { message: 'log exporter bug' } });
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.removeListener('uncaughtException', onUncaught);
  }
  expect(uncaught).toEqual([]);
});
