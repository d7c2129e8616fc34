// Times as exact nanoseconds since the epoch, kept as two integers (whole seconds and the
// nanoseconds within) because the total exceeds 2^53: a JS number would round it. They
// fill bigint columns exactly; the timestamptz columns (microseconds) are derived in SQL.
import type { HrTime } from '@opentelemetry/api';

/** `[seconds, nanos]` with integer seconds and 0 ≤ nanos < 1e9. */
export type UnixNano = readonly [seconds: number, nanos: number];

const NANOS_PER_SECOND = 1_000_000_000;
const EPOCH: UnixNano = [0, 0];

/** `null` for a missing time or the SDK's `[0, 0]` "not ended" marker. */
export function toUnixNanoOrNull(time: HrTime | undefined): UnixNano | null {
  if (!Array.isArray(time) || (time[0] === 0 && time[1] === 0)) return null;
  return toUnixNano(time);
}

/** The epoch for a time that is not an HrTime at all: stored rather than refused. */
export function toUnixNano(time: HrTime): UnixNano {
  if (!Array.isArray(time)) return EPOCH;
  const [seconds, nanos] = time;
  if (Number.isSafeInteger(seconds) && Number.isInteger(nanos) && nanos >= 0 && nanos < NANOS_PER_SECOND) return time;
  // Odd shapes (fractions, negative or carried nanoseconds) from a hand-built span.
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return EPOCH;
  const total = BigInt(Math.trunc(seconds)) * BigInt(NANOS_PER_SECOND) + BigInt(Math.round((seconds % 1) * NANOS_PER_SECOND + nanos));
  const wholeSeconds = total / BigInt(NANOS_PER_SECOND) - (total % BigInt(NANOS_PER_SECOND) < 0n ? 1n : 0n);
  return [Number(wholeSeconds), Number(total - wholeSeconds * BigInt(NANOS_PER_SECOND))];
}

export function compareUnixNano(a: UnixNano, b: UnixNano): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

/** The decimal text PostgreSQL prints for the bigint column. */
export function unixNanoText([seconds, nanos]: UnixNano): string {
  return (BigInt(seconds) * BigInt(NANOS_PER_SECOND) + BigInt(nanos)).toString();
}
