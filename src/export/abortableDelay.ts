// A delay that ends early when its signal aborts, and never rejects: every wait in the
// export path (a backoff, the loop's idle tick) races the same stop signal, so a stop
// never waits out a timer that no longer matters.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Resolves after `millis`, or as soon as `signal` aborts. `keepAlive: false` (the default)
 * unrefs the timer: a background wait never keeps the process alive on its own.
 */
export async function abortableDelay(millis: number, signal?: AbortSignal, keepAlive = false): Promise<void> {
  if (signal?.aborted) return;
  try {
    await sleep(millis, undefined, { signal, ref: keepAlive });
  } catch {
    // AbortError: the signal ended the wait, which is what it is for.
  }
}
