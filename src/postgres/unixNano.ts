// Nanoseconds since the epoch as a decimal string for a bigint column. They exceed 2^53,
// so a JS number would round them; the columns keep the exact value, and the timestamptz
// columns (microseconds) are derived from them in SQL.
import type { HrTime } from '@opentelemetry/api';

const NANOS_PER_SECOND = 1_000_000_000;

/** `null` for a missing time or the SDK's `[0, 0]` "not ended" marker. */
export function unixNanoOrNull(time: HrTime | undefined): string | null {
  if (!Array.isArray(time) || (time[0] === 0 && time[1] === 0)) return null;
  return unixNano(time);
}

export function unixNano(time: HrTime): string {
  const [seconds, nanos] = time;
  if (Number.isSafeInteger(seconds) && seconds > 0 && Number.isInteger(nanos) && nanos >= 0 && nanos < NANOS_PER_SECOND) {
    return `${seconds}${String(nanos).padStart(9, '0')}`; // the hot path: no BigInt
  }
  // Odd shapes (fractions, negative or carried nanoseconds) from a hand-built span.
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return '0';
  const total = BigInt(Math.trunc(seconds)) * BigInt(NANOS_PER_SECOND) + BigInt(Math.round((seconds % 1) * NANOS_PER_SECOND + nanos));
  return total.toString();
}
