// Bad options passed in code throw a sentence naming the option, what was expected and
// what was given. (Environment values warn and fall back instead: see environment.ts.)

export class InvalidOptionError extends TypeError {
  constructor(option: string, expected: string, given: unknown) {
    super(`Invalid option ${option}: expected ${expected}, got ${describe(given)}.`);
    this.name = 'InvalidOptionError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  return typeof value;
}

export function positiveInteger(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new InvalidOptionError(option, 'a positive integer', value);
  }
  return value;
}

/**
 * The longest wait a duration option may ask for. Node's timers hold at most 2^31 - 1 ms
 * (about 24.8 days) and fire at once, with a warning, above it, and PostgreSQL's
 * statement_timeout stops there too. Below it with room to spare: timers add margins to
 * these options (the exporter's cutoff 250 ms, shutdown's wait for the exporter 1 s).
 */
export const MAX_MILLIS = 2_147_000_000;

/** Milliseconds, at least `min` (0 or 1), at most MAX_MILLIS. */
export function millis(option: string, value: number | undefined, fallback: number, min: 0 | 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_MILLIS) {
    throw new InvalidOptionError(option, `${min === 0 ? 'a non-negative' : 'a positive'} integer of milliseconds, at most ${MAX_MILLIS} (about 24 days)`, value);
  }
  return value;
}

export function oneOf<T extends string>(option: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value)) {
    throw new InvalidOptionError(option, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value;
}

export function booleanOption(option: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(option, 'true or false', value);
  return value;
}

export function nonEmptyString(option: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(option, 'a non-empty string', value);
  }
  return value;
}
