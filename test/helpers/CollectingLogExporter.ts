// A real LogRecordExporter that keeps what it accepts and fails while `failing` says so,
// like a collector that answers 503: CollectingExporter's counterpart for log records.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';

export class CollectingLogExporter implements LogRecordExporter {
  readonly records: ReadableLogRecord[] = [];
  calls = 0;
  failing = false;

  export(records: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.calls += 1;
    setImmediate(() => {
      if (this.failing) return resultCallback({ code: ExportResultCode.FAILED, error: new Error('collector 503 (test)') });
      this.records.push(...records);
      resultCallback({ code: ExportResultCode.SUCCESS });
    });
  }

  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}
