// Retry delays with "full jitter": uniform in [0, min(cap, base * 2^attempt)], so many
// processes that lost the same database do not come back in lockstep.
export const RETRY_BASE_MILLIS = 100;
// 5 s: a refused connection costs next to nothing, and a database that comes back should
// see its backlog drain within seconds, not wait out a long backoff.
export const RETRY_CAP_MILLIS = 5_000;

export function retryDelayMillis(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_CAP_MILLIS, RETRY_BASE_MILLIS * 2 ** Math.min(attempt, 20));
  return Math.max(RETRY_BASE_MILLIS / 2, Math.round(random() * ceiling));
}
