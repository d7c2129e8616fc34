// Retries one batch's export until it commits, with jittered backoff between attempts. Shared by
// the processor's export loop (unlimited attempts until its stop signal) and recovery
// (a few attempts, then the journal is given back for a later run).
import { abortableDelay } from './abortableDelay.js';
import { retryDelayMillis } from './backoff.js';
import type { ExportOutcome } from './exportBatch.js';

export interface RetryPolicy {
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

/** `attempt` is one export that always settles (exportBatch, exportWithLogs) and honours `policy.signal`. */
export async function retryWithBackoff(attempt: () => Promise<ExportOutcome>, policy: RetryPolicy): Promise<RetryOutcome> {
  const maxAttempts = policy.maxAttempts ?? Number.POSITIVE_INFINITY;
  for (let n = 0; ; n++) {
    const outcome = await attempt();
    if (outcome.ok) return { ok: true, attempts: n + 1 };
    if (outcome.aborted || policy.signal?.aborted) return { ok: false, error: outcome.error, aborted: true, attempts: n + 1 };
    // A call that timed out may succeed yet: its result is awaited (one more timeout at
    // most) before the batch is sent again, and a SUCCESS ends the retries. Sent again
    // while it still ran, its spans were delivered twice, and more behind a slow exporter.
    // Awaited before the attempt is told as failed: a late success is no failure (it was
    // counted in exportFailures and said "export failed", then "recovered").
    if (outcome.late !== undefined && (await lateSuccess(outcome.late, policy.signal))) return { ok: true, attempts: n + 1 };
    if (policy.signal?.aborted) return { ok: false, error: outcome.error, aborted: true, attempts: n + 1 };
    if (n + 1 >= maxAttempts) return { ok: false, error: outcome.error, aborted: false, attempts: n + 1 };
    policy.onRetry?.(outcome.error, n);
    await abortableDelay(retryDelayMillis(n), policy.signal, policy.keepAlive);
    // Stopped during the backoff: report the failure that was real, not the abandonment.
    if (policy.signal?.aborted) return { ok: false, error: outcome.error, aborted: true, attempts: n + 1 };
  }
}

/** `late`, or false as soon as `signal` aborts: a stop does not wait for a slow call's result. */
function lateSuccess(late: Promise<boolean>, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal === undefined) return late;
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    void late.then((success) => {
      signal.removeEventListener('abort', onAbort);
      resolve(success);
    });
  });
}
