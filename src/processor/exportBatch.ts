// One exporter.export() call as a promise that always settles: a throw, a FAILED result
// and a callback that never comes (past exportTimeoutMillis) all count as failure. The
// export runs with tracing suppressed so instrumented clients do not trace the exporter.
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

export type ExportOutcome = { ok: true } | { ok: false; error: Error };

export function exportBatch(exporter: SpanExporter, spans: ReadableSpan[], timeoutMillis: number): Promise<ExportOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ExportOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const timer = setTimeout(
      () => settle({ ok: false, error: new Error(`export of ${spans.length} spans timed out after ${timeoutMillis} ms`) }),
      timeoutMillis,
    );
    timer.unref();
    try {
      context.with(suppressTracing(context.active()), () =>
        exporter.export(spans, (result) => {
          if (result.code === ExportResultCode.SUCCESS) settle({ ok: true });
          else settle({ ok: false, error: result.error ?? new Error('exporter reported FAILED') });
        }),
      );
    } catch (error) {
      settle({ ok: false, error: error instanceof Error ? error : new Error(String(error)) });
    }
  });
}
