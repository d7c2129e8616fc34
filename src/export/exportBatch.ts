// One exporter.export() call as a promise that always settles: a throw, a FAILED result,
// a callback that never comes (past exportTimeoutMillis) and an aborted stop signal all
// count as failure. The export runs with tracing suppressed so instrumented clients do not
// trace the exporter. An aborted signal means export() is not called at all: a stopping
// processor may already have shut its exporter down, and the SpanExporter contract forbids
// export() after shutdown().
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

export type ExportOutcome = { ok: true } | { ok: false; error: Error; aborted: boolean };

export function exportBatch(
  exporter: SpanExporter,
  spans: ReadableSpan[],
  timeoutMillis: number,
  signal?: AbortSignal,
): Promise<ExportOutcome> {
  if (signal?.aborted) return Promise.resolve({ ok: false, error: abortError(spans.length), aborted: true });
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ExportOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const onAbort = (): void => settle({ ok: false, error: abortError(spans.length), aborted: true });
    const timer = setTimeout(
      () => settle({ ok: false, error: new Error(`export of ${spans.length} spans timed out after ${timeoutMillis} ms`), aborted: false }),
      timeoutMillis,
    );
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      context.with(suppressTracing(context.active()), () =>
        exporter.export(spans, (result) => {
          if (result.code === ExportResultCode.SUCCESS) settle({ ok: true });
          else settle({ ok: false, error: result.error ?? new Error('exporter reported FAILED'), aborted: false });
        }),
      );
    } catch (error) {
      settle({ ok: false, error: error instanceof Error ? error : new Error(String(error)), aborted: false });
    }
  });
}

function abortError(spanCount: number): Error {
  return new Error(`export of ${spanCount} spans abandoned: the exporter is stopping`);
}
