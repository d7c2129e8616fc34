// Exports one batch until it commits, retrying failures with jittered backoff. Shared by
// the processor's export loop (unlimited attempts until its stop signal) and recovery
// (a few attempts, then the journal is given back for a later run).
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { abortableDelay } from './abortableDelay.js';
import { retryDelayMillis } from './backoff.js';
import { exportBatch } from './exportBatch.js';

export interface RetryPolicy {
  exportTimeoutMillis: number;
  /** Attempts before giving up. Default: unlimited (until `signal` aborts). */
  maxAttempts?: number;
  /** Ends the current export wait and every backoff; no attempt starts once it has aborted. */
  signal?: AbortSignal;
  /** Keep the process alive during backoff (a CLI awaiting recovery). Default false. */
  keepAlive?: boolean;
  /** Told of each failed attempt that will be retried. */
  onRetry?: (error: Error, attempt: number) => void;
}

export type RetryOutcome =
  | { ok: true; attempts: number }
  /** `aborted`: the signal stopped it; otherwise the attempts ran out. */
  | { ok: false; error: Error; aborted: boolean; attempts: number };

export async function exportWithRetry(exporter: SpanExporter, spans: ReadableSpan[], policy: RetryPolicy): Promise<RetryOutcome> {
  const maxAttempts = policy.maxAttempts ?? Number.POSITIVE_INFINITY;
  for (let attempt = 0; ; attempt++) {
    const outcome = await exportBatch(exporter, spans, policy.exportTimeoutMillis, policy.signal);
    if (outcome.ok) return { ok: true, attempts: attempt + 1 };
    if (outcome.aborted || policy.signal?.aborted) return { ok: false, error: outcome.error, aborted: true, attempts: attempt + 1 };
    if (attempt + 1 >= maxAttempts) return { ok: false, error: outcome.error, aborted: false, attempts: attempt + 1 };
    policy.onRetry?.(outcome.error, attempt);
    await abortableDelay(retryDelayMillis(attempt), policy.signal, policy.keepAlive);
    // Stopped during the backoff: report the failure that was real, not the abandonment.
    if (policy.signal?.aborted) return { ok: false, error: outcome.error, aborted: true, attempts: attempt + 1 };
  }
}
