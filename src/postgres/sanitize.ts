// PostgreSQL refuses NUL in text (22021) and `\u0000` in jsonb (22P05), and lone UTF-16
// surrogates in jsonb (22P02). One bad attribute must not cost a whole batch, so every
// string and object key is repaired here, before JSON.stringify: afterwards a NUL is six
// characters of escape text that no replace can find any more.
import { errorKeys, isError } from '../errorValue.js';
import { bytesOf, CIRCULAR, firstOf, isNumberArray, mapForJson, MAX_DEPTH, MAX_VALUES, standIn, TOO_DEEP, TOO_LARGE, UNSERIALIZABLE } from '../valueLimits.js';

/** ES2024 string methods; Node ≥ 20 has them, our `lib` setting (ES2023) does not declare them. */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}


const REPLACEMENT = '\uFFFD';

export function sanitizeString(value: string): string {
  const clean = value.indexOf('\0') === -1 && (value as unknown as WellFormedString).isWellFormed();
  if (clean) return value;
  return (value.replaceAll('\0', REPLACEMENT) as unknown as WellFormedString).toWellFormed();
}

/**
 * `result[key] = json` under the key repaired. Two keys the repair makes equal ('a\0' and
 * 'a\uFFFD') would leave one value, unmarked. A key that needed no repair keeps its name
 * (a query for it finds its own value); a repaired one that clashes gets one more U+FFFD
 * per clash. (Keys that needed no repair never clash among themselves: an entry in the way
 * of one was repaired, and moves.)
 */
function putRepaired(result: { [key: string]: unknown }, key: string, json: unknown): void {
  const name = sanitizeString(key);
  if (!Object.hasOwn(result, name)) {
    result[name] = json;
    return;
  }
  let moved = json;
  if (name === key) {
    moved = result[name];
    result[name] = json;
  }
  let free = name + REPLACEMENT;
  while (Object.hasOwn(result, free)) free += REPLACEMENT;
  result[free] = moved;
}

export function sanitizeOptionalString(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return sanitizeString(typeof value === 'string' ? value : String(value));
}

/**
 * JSON text for an attribute map, or for any value a caller managed to put in one. api
 * 1.10 AnyValue: bytes (Uint8Array) become base64 text, as OTLP/JSON encodes them; maps
 * objects, mixed arrays arrays, `null` null. Beyond that: non-finite numbers become
 * `'NaN'`/`'Infinity'`, bigints their decimal string, `undefined` and functions left out of a map
 * (as JSON.stringify leaves them) and null in an array, cycles
 * `'[Circular]'`, a value whose getter or toJSON throws `'[Unserializable]'`, past MAX_VALUES values `'[Too large]'` (valueLimits.ts),
 * an Error its name, message, stack, cause and own fields (errorValue.ts). Never throws.
 */
export function toJsonText(value: unknown): string {
  return toOptionalJsonText(value) ?? 'null';
}

/**
 * toJsonText, or null where JSON.stringify would write nothing at all (undefined, a
 * function, a toJSON() that gives undefined): a log record's body, which the journal's copy
 * then leaves out, stored as SQL NULL as it is then.
 */
export function toOptionalJsonText(value: unknown): string | null {
  try {
    // The common case (flat attributes of clean primitives) is checked without allocating.
    if (isClean(value, 0, { left: MAX_VALUES })) return JSON.stringify(value) ?? null;
  } catch {
    // A throwing getter: the careful path below contains it.
  }
  const json = toJsonValue(value, new Set(), 0, { left: MAX_VALUES });
  return json === OMITTED ? null : (JSON.stringify(json) ?? null);
}

/**
 * What JSON.stringify leaves out of an object and writes as null in an array: undefined, a
 * function, what a toJSON() returns as undefined. The journal's copy is JSON, so a span read
 * back from it has none of them: a live one must store the same.
 */
const OMITTED = Symbol('omitted');

function isClean(value: unknown, depth: number, budget: ValueBudget): boolean {
  // Past MAX_VALUES in all, nested ones and the containers counted, the careful path cuts
  // them: a flat map of a million keys was stored whole (an attack).
  if (--budget.left < 0) return false;
  switch (typeof value) {
    case 'string':
      return isCleanText(value);
    case 'number':
      return Number.isFinite(value);
    case 'boolean':
      return true;
    case 'object': {
      if (value === null) return true;
      if (depth > 1) return false;
      // Only arrays and plain objects are checked; anything else takes the careful path.
      // So does a list past MAX_VALUES, which it cuts (a sparse one of length 1e8 too).
      if (Array.isArray(value)) return value.length <= MAX_VALUES && value.every((v) => isClean(v, depth + 1, budget));
      if (Object.getPrototypeOf(value) !== Object.prototype || 'toJSON' in value) return false;
      for (const key in value) {
        if (!Object.hasOwn(value, key) || !isCleanText(key)) return false;
        if (!isClean((value as Record<string, unknown>)[key], depth + 1, budget)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function isCleanText(text: string): boolean {
  return text.indexOf('\0') === -1 && (text as unknown as WellFormedString).isWellFormed();
}

type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** What remains of one value's MAX_VALUES. */
interface ValueBudget {
  left: number;
}

function toJsonValue(value: unknown, ancestors: Set<object>, depth: number, budget: ValueBudget): JsonValue | typeof OMITTED {
  if (--budget.left < 0) return TOO_LARGE;
  switch (typeof value) {
    case 'string':
      return sanitizeString(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'symbol':
      return sanitizeString(value.toString());
    case 'undefined':
    case 'function':
      return OMITTED;
  }
  if (value === null) return null;
  const object = value as object;
  if (ancestors.has(object)) return CIRCULAR;
  if (depth >= MAX_DEPTH) return TOO_DEEP;
  ancestors.add(object);
  try {
    return objectToJsonValue(object, ancestors, depth + 1, budget);
  } finally {
    ancestors.delete(object);
  }
}

function objectToJsonValue(object: object, ancestors: Set<object>, depth: number, budget: ValueBudget): JsonValue | typeof OMITTED {
  try {
    // A typed array as the list of its numbers; the rest of a list past MAX_VALUES is one
    // TOO_LARGE, as in the journal's copy (attributeValues.ts).
    if (Array.isArray(object) || isNumberArray(object)) {
      const list = object as ArrayLike<unknown>;
      const result: JsonValue[] = [];
      for (let i = 0; i < list.length; i++) {
        if (budget.left <= 0) {
          result.push(TOO_LARGE);
          break;
        }
        const json = toJsonValue(list[i], ancestors, depth, budget);
        result.push(json === OMITTED ? null : json);
      }
      return result;
    }
    // Before toJSON: a Buffer's toJSON would give { type: 'Buffer', data: [...] }.
    const bytes = bytesOf(object);
    if (bytes !== undefined) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    // One value for the object and its stand-in, as the journal's copy counts it.
    const stored = standIn(object);
    if (stored !== undefined) {
      budget.left += 1;
      return toJsonValue(stored.value, ancestors, depth, budget);
    }
    // The entries in the Map's own place: no level or value more than the journal's copy charges.
    if (object instanceof Map) return objectToJsonValue(mapForJson(object, budget.left + 1), ancestors, depth, budget);
    if (object instanceof Set) return objectToJsonValue(firstOf(object, budget.left + 1), ancestors, depth, budget);
    // A null prototype, so a sanitised `__proto__` key stays an ordinary key.
    const result: { [key: string]: JsonValue } = Object.create(null);
    if (isError(object)) {
      // Undefined values left out, as the journal's copy leaves them (attributeValues.ts).
      for (const key of errorKeys(object)) {
        if (budget.left <= 0) {
          putRepaired(result, key, TOO_LARGE);
          break;
        }
        let value: unknown;
        try {
          value = (object as unknown as Record<string, unknown>)[key];
        } catch {
          value = UNSERIALIZABLE;
        }
        const json = toJsonValue(value, ancestors, depth, budget);
        if (json !== OMITTED) putRepaired(result, key, json);
      }
      return result;
    }
    for (const key of Object.keys(object)) {
      if (budget.left <= 0) {
        putRepaired(result, key, TOO_LARGE);
        break;
      }
      let value: unknown;
      try {
        value = (object as Record<string, unknown>)[key];
      } catch {
        // A getter that throws costs that value alone.
        putRepaired(result, key, UNSERIALIZABLE);
        continue;
      }
      const json = toJsonValue(value, ancestors, depth, budget);
      if (json !== OMITTED) putRepaired(result, key, json);
    }
    return result;
  } catch {
    // A throwing toJSON or Proxy: keep the rest of the record.
    return UNSERIALIZABLE;
  }
}

