// A real SpanExporter that keeps what it receives, for tests of the processor that are
// about the journal rather than the database. It can be told to fail, like a database
// that is down, and counts every call.
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

export class CollectingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  calls = 0;
  failing = false;
  shutdownCalls = 0;

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.calls += 1;
    setImmediate(() => {
      if (this.failing) {
        resultCallback({ code: ExportResultCode.FAILED, error: new Error('database down (test)') });
        return;
      }
      this.spans.push(...spans);
      resultCallback({ code: ExportResultCode.SUCCESS });
    });
  }

  spanIds(): string[] {
    return this.spans.map((span) => span.spanContext().spanId);
  }

  async shutdown(): Promise<void> {
    this.shutdownCalls += 1;
  }

  async forceFlush(): Promise<void> {}
}
