// How a batch reaches an exporter that takes log records with spans: as a function that
// makes the spans only when the exporter says it takes one (PostgresSpanExporter); an
// exporter written against SpansAndLogs as it was (an array) still gets an array.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { exportWithLogs } from '../../src/export/exportWithLogs.js';
import type { SpansAndLogs, SpansAndLogsExporter } from '../../src/export/SpansAndLogs.js';
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
