// Shared by the benchmarks: statistics over rounds, number formatting, and a no-op exporter.
import { ExportResultCode } from '@opentelemetry/core';

export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

export const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Accepts every batch at once: measures the processor, not a backend. */
export class NoopExporter {
  exported = 0;
  export(spans, done) {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown() {}
  async forceFlush() {}
}

export const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

export function databaseUrl() {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}
