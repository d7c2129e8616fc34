// Bad options passed in code throw a sentence naming the option, what was expected and
// what was given. (Environment values warn and fall back instead: see environment.ts.)

export class InvalidOptionError extends TypeError {
  constructor(option: string, expected: string, given: unknown) {
    super(`Invalid option ${option}: expected ${expected}, got ${describe(given)}.`);
    this.name = 'InvalidOptionError';
  }

  /** An option name its owner does not have; the value is never echoed (it may hold a password). */
  static unknownName(option: string, owner: string, known: readonly string[]): InvalidOptionError {
    // A name is the caller's, and may be anything: a plain one as it is, else quoted and cut.
    const name = /^[A-Za-z_$][\w$.-]{0,63}$/.test(option) ? option : `${JSON.stringify(option.slice(0, 64))}${option.length > 64 ? '...' : ''}`;
    const error = new InvalidOptionError(name, '', undefined);
    const near = closestName(option, known);
    error.message = `Invalid option ${name}: ${owner} has no option of that name${near === undefined ? '' : ` (did you mean ${near}?)`}; its options are ${known.join(', ')}.`;
    return error;
  }
}

/**
 * Throws for a name `options` has that is none of `known`. A mistyped option (`durabilty`)
 * was ignored, and the setting it meant lost without a word: TypeScript catches the typo in
 * an object literal, but not in JavaScript or in an object built elsewhere.
 */
export function knownOptionsOnly(owner: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw InvalidOptionError.unknownName(name, owner, known);
  }
}

/** The known name a typo most likely meant: the same but for case, or at most two edits away. */
function closestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance, or `limit` once it is certain to be at least that. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    if (Math.min(...current) >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length], limit);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    return typeof name === 'string' && name !== '' && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof value;
}

export function positiveInteger(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(option, `a positive integer, at most ${Number.MAX_SAFE_INTEGER}`, value);
  }
  return value;
}

/** Bytes, a whole number of at least `min`: `what` says why that is the least. */
export function bytesAtLeast(option: string, value: number | undefined, fallback: number, min: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError(option, `a whole number of bytes, at least ${min} (${what}) and at most ${Number.MAX_SAFE_INTEGER}`, value);
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
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > MAX_MILLIS) {
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

/** A callback option: undefined or null for none. */
export function optionalFunction<T extends (...args: never[]) => unknown>(option: string, value: T | null | undefined): T | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'function') throw new InvalidOptionError(option, 'a function', value);
  return value;
}

/**
 * A pg.Pool of the caller's, checked by what a pool has (a pool of another copy of
 * node-postgres serves as well). A pg.Client has connect() and query() too, but no
 * totalCount: taken for a pool, migrateSchema committed its migrations on it and then
 * failed at release() (a review).
 */
export function validPool(value: unknown): void {
  const pool = value as { connect?: unknown; query?: unknown } | null;
  if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function' || typeof pool.query !== 'function' || !('totalCount' in pool)) {
    throw new InvalidOptionError('pool', 'a pg.Pool (not a pg.Client: pass the pool)', value);
  }
}

/** An exporter option (span or log record exporter): an object with export(); `expected` names its kind. */
export function exporterOption<T extends object>(option: string, value: T | undefined, expected: string): T {
  if (typeof value !== 'object' || value === null || typeof (value as { export?: unknown }).export !== 'function') {
    throw new InvalidOptionError(option, `${expected} (an object with export())`, value);
  }
  return value;
}

/** The `logExporter` option of the processor and of recovery: a LogRecordExporter, or undefined for none. */
export function optionalLogExporter<T extends object>(value: T | undefined): T | undefined {
  return value === undefined ? undefined : exporterOption('logExporter', value, 'a LogRecordExporter');
}

/**
 * An AbortSignal, or undefined for none. Checked by what recovery calls on it, not by
 * `instanceof`: a signal of another realm or of a polyfill serves as well.
 */
export function optionalAbortSignal(option: string, value: AbortSignal | undefined): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const signal = value as Partial<AbortSignal> | null;
  if (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function' || typeof signal.removeEventListener !== 'function') {
    throw new InvalidOptionError(option, 'an AbortSignal', value);
  }
  return value;
}

export function nonEmptyString(option: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(option, 'a non-empty string', value);
  }
  return value;
}

/**
 * A non-empty string without NUL, which no path and no PostgreSQL startup packet can hold:
 * a journalDir with one ran for its whole life on the memory path, and an applicationName
 * with one made every batch fail as retryable (08P01), both taken without a word (a review).
 */
export function textWithoutNul(option: string, value: string | undefined, fallback: string): string {
  const text = nonEmptyString(option, value, fallback);
  if (text.includes('\0')) throw new InvalidOptionError(option, 'a string without NUL characters', value);
  return text;
}

/**
 * A directory path: text without NUL that is not white space alone. Spaces alone in
 * OTEL_BLACKBOX_JOURNAL_DIR count as unset; in code they made a directory named '   '
 * beside the application (a review).
 */
export function directoryPath(option: string, value: string | undefined, fallback: string): string {
  const path = textWithoutNul(option, value, fallback);
  if (path.trim() === '') throw new InvalidOptionError(option, 'a directory path, not only white space', value);
  return path;
}
