// Times as exact nanoseconds since the epoch, kept as two integers (whole seconds and the
// nanoseconds within) because the total exceeds 2^53: a JS number would round it. They
// fill bigint columns exactly; the timestamptz columns (microseconds) are derived in SQL.
import type { HrTime } from '@opentelemetry/api';

/** `[seconds, nanos]` with integer seconds and 0 ≤ nanos < 1e9. */
export type UnixNano = readonly [seconds: number, nanos: number];

const NANOS_PER_SECOND = 1_000_000_000;
const EPOCH: UnixNano = [0, 0];
/**
 * ±2^62 ns: 1823-11 to 2116-02. A time past it (milliseconds given a million times over, a
 * clock gone wrong) is stored as the nearest one in it. Past int64 (1677 to 2262), binding
 * the batch threw, and the whole batch, good spans with it, was retried for good, never
 * reaching dead_letters (PostgreSQL never saw it); within int64 but past 2^62, a span's
 * duration_ns (end − start, in SQL) could still overflow and dead-letter it. Between two
 * times in ±2^62 every difference fits in int64.
 */
const LATEST: UnixNano = [4_611_686_018, 427_387_903];
const EARLIEST: UnixNano = [-4_611_686_019, 572_612_096];

/** `null` for a missing time or the SDK's `[0, 0]` "not ended" marker. */
export function toUnixNanoOrNull(time: HrTime | undefined): UnixNano | null {
  if (!Array.isArray(time) || (time[0] === 0 && time[1] === 0)) return null;
  return toUnixNano(time);
}

/** The epoch for a time that is not an HrTime at all: stored rather than refused. */
export function toUnixNano(time: HrTime): UnixNano {
  if (!Array.isArray(time)) return EPOCH;
  const [seconds, nanos] = time;
  if (Number.isSafeInteger(seconds) && Number.isInteger(nanos) && nanos >= 0 && nanos < NANOS_PER_SECOND) return withinRange(time);
  // Odd shapes (fractions, negative or carried nanoseconds) from a hand-built span.
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return EPOCH;
  const total = BigInt(Math.trunc(seconds)) * BigInt(NANOS_PER_SECOND) + BigInt(Math.round((seconds % 1) * NANOS_PER_SECOND + nanos));
  const wholeSeconds = total / BigInt(NANOS_PER_SECOND) - (total % BigInt(NANOS_PER_SECOND) < 0n ? 1n : 0n);
  return withinRange([Number(wholeSeconds), Number(total - wholeSeconds * BigInt(NANOS_PER_SECOND))]);
}

function withinRange(time: UnixNano): UnixNano {
  if (time[0] < LATEST[0] && time[0] > EARLIEST[0]) return time;
  if (compareUnixNano(time, LATEST) > 0) return LATEST;
  if (compareUnixNano(time, EARLIEST) < 0) return EARLIEST;
  return time;
}

export function compareUnixNano(a: UnixNano, b: UnixNano): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** The decimal text PostgreSQL prints for the bigint column. */
export function unixNanoText([seconds, nanos]: UnixNano): string {
  return (BigInt(seconds) * BigInt(NANOS_PER_SECOND) + BigInt(nanos)).toString();
}
