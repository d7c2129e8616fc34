// Attribute values as the journal stores them. api 1.10 widened them to AnyValue: bytes
// (Uint8Array), maps, mixed arrays and null, and a caller can force anything at all into
// span.attributes. JSON.stringify would turn bytes into {"0":1,...}, throw on a bigint, a
// throwing getter or 20,000-deep nesting, and store NaN as null. So a cheap scan sends the
// common case (strings, finite numbers, booleans, null, flat arrays of them) straight to
// JSON.stringify, and everything else through a careful copy that never throws. Bytes are
// stored as base64 text (as OTLP/JSON does) and their places listed beside the map, so a
// span read back from disk hands any exporter the bytes again. Strings are kept exactly:
// sanitising for PostgreSQL happens in the exporter, not in the journal.
import type { Attributes } from '@opentelemetry/api';
import { errorKeys, isError } from '../errorValue.js';
import { bytesOf, CIRCULAR, firstOf, isNumberArray, mapForJson, MAX_DEPTH, MAX_VALUES, standIn, TOO_DEEP, TOO_LARGE, UNSERIALIZABLE } from '../valueLimits.js';

/** From an attribute key down into nested maps and arrays: where base64 text stands for bytes. */
export type BytesPath = (string | number)[];

/** An attribute map ready for JSON, and where it holds bytes (absent when nowhere). */
export interface EncodedAttributes {
  a: Attributes;
  ab?: BytesPath[];
}


/** True when JSON.stringify stores these attributes exactly as they are. Never throws. */
export function isPlainAttributes(attributes: object): boolean {
  try {
    // A class instance may carry an inherited toJSON, which JSON.stringify would call.
    if (Object.getPrototypeOf(attributes) !== Object.prototype) return false;
    // Past MAX_VALUES in all (the map counted too), the careful copy cuts them: a map of a
    // million keys was journaled and stored whole (an attack).
    let values = 1;
    for (const key in attributes) {
      const value: unknown = (attributes as Record<string, unknown>)[key];
      if (isPlainScalar(value)) values += 1;
      else if (Array.isArray(value) && isPlainArray(value)) values += 1 + value.length;
      else return false;
      if (values > MAX_VALUES) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * The keys and values of plain attributes holding no array, in order: what they were when
 * this was taken, for unchangedSince(). Undefined otherwise: an array can change inside
 * without being set again, and what is not plain goes through the careful copy anyway.
 * Never throws.
 */
export function attributesSnapshot(attributes: object): unknown[] | undefined {
  try {
    if (Object.getPrototypeOf(attributes) !== Object.prototype) return undefined;
    const snapshot: unknown[] = [];
    for (const key in attributes) {
      const value: unknown = (attributes as Record<string, unknown>)[key];
      if (!isPlainScalar(value)) return undefined;
      snapshot.push(key, value);
    }
    return snapshot;
  } catch {
    return undefined;
  }
}

/**
 * True when `attributes` hold exactly the keys and values of `snapshot`, in the same order:
 * then their JSON is the one written when it was taken. Never throws.
 */
export function unchangedSince(attributes: object, snapshot: unknown[]): boolean {
  try {
    if (Object.getPrototypeOf(attributes) !== Object.prototype) return false;
    let i = 0;
    for (const key in attributes) {
      if (snapshot[i] !== key || snapshot[i + 1] !== (attributes as Record<string, unknown>)[key]) return false;
      i += 2;
    }
    return i === snapshot.length;
  } catch {
    return false;
  }
}

function isPlainScalar(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // NaN and ±Infinity: JSON would store null.
      return value - value === 0;
    default:
      return value === null;
  }
}

function isPlainArray(values: unknown[]): boolean {
  // Past MAX_VALUES the careful copy cuts it, and must: JSON.stringify would copy it all.
  if (values.length > MAX_VALUES) return false;
  for (let i = 0; i < values.length; i++) if (!isPlainScalar(values[i])) return false;
  return true;
}

/**
 * The attributes as `{ a, ab? }`: the same object when plain, else a careful copy.
 * `mapCounts`: the map itself is one of its MAX_VALUES, as the exporter counts it
 * (sanitize.ts); false for a map that only wraps one value (a log record's body).
 */
export function encodeAttributes(attributes: Attributes | undefined, mapCounts = true): EncodedAttributes {
  if (attributes === undefined || attributes === null) return { a: {} };
  if (isPlainAttributes(attributes)) return { a: attributes };
  const bytes: BytesPath[] = [];
  const copy = new CarefulCopy(bytes).attributes(attributes, mapCounts);
  return bytes.length > 0 ? { a: copy, ab: bytes } : { a: copy };
}

/** Sets `record.a` (and `record.ab` when there are bytes) without allocating in the plain case. */
export function putAttributes(record: { a?: Attributes; ab?: BytesPath[] }, attributes: Attributes | undefined): void {
  if (attributes !== undefined && attributes !== null && isPlainAttributes(attributes)) {
    record.a = attributes;
    return;
  }
  const encoded = encodeAttributes(attributes);
  record.a = encoded.a;
  if (encoded.ab !== undefined) record.ab = encoded.ab;
}

/** Any value as JSON-safe data (bytes as base64, untagged): for records outside the span shapes. */
export function jsonSafe(value: unknown): unknown {
  return new CarefulCopy(undefined).value(value, 0);
}

/** The attributes of a record read back from disk, with their bytes as Uint8Array again. */
export function decodeAttributes(encoded: { a?: Attributes; ab?: BytesPath[] }): Attributes {
  const attributes = encoded.a ?? {};
  if (!Array.isArray(encoded.ab)) return attributes;
  for (const path of encoded.ab as unknown[]) {
    // A record's shape is a writer's to get right; one that did not decodes as text, never throws.
    if (!Array.isArray(path) || path.length === 0) continue;
    let holder: any = attributes;
    for (let i = 0; i < path.length - 1 && holder !== null && typeof holder === 'object'; i++) holder = holder[path[i]!];
    const last = path[path.length - 1]!;
    // A capped record may have cut the value short or dropped it: decode what is there.
    if (holder !== null && typeof holder === 'object' && typeof holder[last] === 'string') {
      holder[last] = new Uint8Array(Buffer.from(holder[last] as string, 'base64'));
    }
  }
  return attributes;
}

/** Uint8Array values copied so far in this process (see bytesCopiedCount). */
let bytesCopied = 0;

/**
 * How many Uint8Array values have been copied so far: a caller that reads it before and
 * after encoding a record knows whether that record held bytes, which the SDK keeps by
 * reference and the application may fill again (cappedRecordCount() likewise).
 */
export function bytesCopiedCount(): number {
  return bytesCopied;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** One walk over one attribute map; `bytes` collects the paths of Uint8Array values when given. */
class CarefulCopy {
  private readonly ancestors = new Set<object>();
  private readonly path: (string | number)[] = [];
  private valuesLeft = MAX_VALUES;

  constructor(private readonly bytes: BytesPath[] | undefined) {}

  attributes(attributes: object, mapCounts: boolean): Attributes {
    if (mapCounts) this.valuesLeft -= 1;
    const copy: Record<string, unknown> = Object.create(null);
    let keys: string[];
    try {
      keys = Object.keys(attributes);
    } catch {
      return { [UNSERIALIZABLE]: UNSERIALIZABLE };
    }
    for (const key of keys) {
      this.path.push(key);
      const value = this.read(attributes, key, 1);
      this.path.pop();
      if (value !== undefined) copy[key] = value;
    }
    return copy as Attributes;
  }

  /** `holder[key]`, copied; a getter that throws stores the placeholder instead. */
  private read(holder: object, key: string | number, depth: number): unknown {
    let value: unknown;
    try {
      value = (holder as Record<string | number, unknown>)[key];
    } catch {
      return UNSERIALIZABLE;
    }
    return this.value(value, depth);
  }

  value(value: unknown, depth: number): unknown {
    if (--this.valuesLeft < 0) return TOO_LARGE;
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        return Number.isFinite(value) ? value : String(value);
      case 'bigint':
        return value.toString();
      case 'symbol':
        return value.toString();
      case 'undefined':
      case 'function':
        return undefined;
    }
    if (value === null) return null;
    // A revoked Proxy, or one whose getPrototypeOf trap throws, throws at instanceof: at
    // the top of a log record's body that took the whole record (review repro D1).
    try {
      const bytes = bytesOf(value);
      if (bytes !== undefined) {
        const text = base64(bytes);
        bytesCopied += 1;
        this.bytes?.push([...this.path]);
        return text;
      }
    } catch {
      return UNSERIALIZABLE;
    }
    const object = value as object;
    if (this.ancestors.has(object)) return CIRCULAR;
    if (depth >= MAX_DEPTH) return TOO_DEEP;
    this.ancestors.add(object);
    try {
      return this.object(object, depth + 1);
    } catch {
      return UNSERIALIZABLE;
    } finally {
      this.ancestors.delete(object);
    }
  }

  private object(object: object, depth: number): unknown {
    // A typed array as the list of its numbers (no string per index, as its keys would make).
    if (Array.isArray(object) || isNumberArray(object)) {
      const list = object as ArrayLike<unknown>;
      const copy: unknown[] = [];
      for (let i = 0; i < list.length; i++) {
        // The rest of a list past MAX_VALUES is one TOO_LARGE, not one per item: a sparse
        // array of length 1e8 took 111 s of the application's thread (review, F2).
        if (this.valuesLeft <= 0) {
          copy.push(TOO_LARGE);
          break;
        }
        this.path.push(i);
        copy.push(this.read(list, i, depth) ?? null);
        this.path.pop();
      }
      return copy;
    }
    const stored = standIn(object);
    if (stored !== undefined) {
      this.valuesLeft += 1;
      return this.value(stored.value, depth);
    }
    if (object instanceof Map) return this.object(mapForJson(object, this.valuesLeft + 1), depth);
    if (object instanceof Set) return this.object(firstOf(object, this.valuesLeft + 1), depth);
    return this.fields(object, isError(object) ? errorKeys(object) : Object.keys(object), depth);
  }

  private fields(object: object, keys: string[], depth: number): Record<string, unknown> {
    // A null prototype, so a `__proto__` key stays an ordinary key.
    const copy: Record<string, unknown> = Object.create(null);
    for (const key of keys) {
      if (this.valuesLeft <= 0) {
        copy[key] = TOO_LARGE;
        break;
      }
      this.path.push(key);
      const value = this.read(object, key, depth);
      this.path.pop();
      if (value !== undefined) copy[key] = value;
    }
    return copy;
  }
}
