// Environment values are the fallback between code and defaults. A bad value warns
// through diag and falls back to the default: a typo in a deployment's environment must
// not take the application down. Names come from defaults.ts (ENV).
import { safeDiag } from '../safeDiag.js';
import { DURABILITY_LEVELS, ENV } from './defaults.js';
import type { DurabilityLevel } from './defaults.js';
import { MAX_MILLIS } from './validate.js';

/**
 * Decimal digits only, as the CLI takes numbers: Number() also took `0x10` (16), `1e3` and
 * `2.0`, and a value past 2^53 (a queue of 1e20 spans, unbounded in effect) without a word.
 */
export function envNonNegativeInteger(name: string, warn = true): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    if (warn) safeDiag.warn(`otel-blackbox: ignoring ${name}=${JSON.stringify(raw)}: expected a non-negative integer in decimal digits, at most ${Number.MAX_SAFE_INTEGER}.`);
    return undefined;
  }
  return value;
}

/** A positive integer; 0 leaves the default, as for the OTEL_BSP_* variables, and says so. */
export function envPositiveInteger(name: string, warn = true): number | undefined {
  const value = envNonNegativeInteger(name, warn);
  if (value !== 0) return value;
  if (warn) safeDiag.warn(`otel-blackbox: ignoring ${name}=0: the default applies.`);
  return undefined;
}

/** Bytes from the environment: at least `min`, else a warning and the default. */
export function envBytesAtLeast(name: string, min: number, what: string): number | undefined {
  const value = envPositiveInteger(name);
  if (value === undefined || value >= min) return value;
  safeDiag.warn(`otel-blackbox: ignoring ${name}=${value}: at least ${min} bytes (${what}); the default applies. The value is in bytes.`);
  return undefined;
}

/**
 * Milliseconds from the environment: at least `min`, at most MAX_MILLIS, else a warning
 * and the default. `warn` false where another reader of the same variable says it.
 */
export function envMillis(name: string, min: 0 | 1, warn = true): number | undefined {
  const value = min === 0 ? envNonNegativeInteger(name, warn) : envPositiveInteger(name, warn);
  if (value === undefined || value <= MAX_MILLIS) return value;
  if (warn) safeDiag.warn(`otel-blackbox: ignoring ${name}=${value}: at most ${MAX_MILLIS} ms (about 24 days), what Node's timers can wait.`);
  return undefined;
}

export function envString(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}

export function envJournalDir(): string | undefined {
  return envString(ENV.journalDir);
}

/** Case and surrounding spaces aside, as OpenTelemetry reads the enum values of its variables. */
export function envDurability(): DurabilityLevel | undefined {
  const raw = envString(ENV.durability);
  if (raw === undefined) return undefined;
  const level = raw.trim().toLowerCase();
  if ((DURABILITY_LEVELS as readonly string[]).includes(level)) return level as DurabilityLevel;
  safeDiag.warn(
    `otel-blackbox: ignoring ${ENV.durability}=${JSON.stringify(raw)}: expected one of ${DURABILITY_LEVELS.map((l) => `'${l}'`).join(', ')}.`,
  );
  return undefined;
}

/** OTEL_SDK_DISABLED as OpenTelemetry reads it: true for `true` (case and spaces aside), false for anything else. */
export function envSdkDisabled(): boolean {
  return envString(ENV.sdkDisabled)?.trim().toLowerCase() === 'true';
}
