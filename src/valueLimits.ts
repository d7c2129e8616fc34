// How far the journal and the exporter go into a value an application handed over (an
// attribute, a log body: anything, in JavaScript), and what they store where they stop.
// One set of rules on both sides, so a value reads back from the journal as it was stored.
import { types } from 'node:util';

/** Levels of nesting kept, the attribute map counting as one; deeper values become TOO_DEEP (stack safety). */
export const MAX_DEPTH = 32;
/**
 * Values copied of one map (or value), nested ones included; a list or map that reaches
 * the limit ends there with one TOO_LARGE (one per remaining item made a sparse array of
 * length 1e8 take 111 s of the application's thread). A typed array counts as the list of
 * its numbers, a DataView as bytes, like a Uint8Array. A
 * map that holds one object twice is not a cycle, and each copy is whole: 30 levels of
 * `{ l: x, r: x }` are 2^31 values, and copying them on the application's thread doubled
 * in time with each level (1 s at 20 levels).
 */
export const MAX_VALUES = 100_000;

/** Stored in place of a value that could not be read (a throwing getter or toJSON). */
export const UNSERIALIZABLE = '[Unserializable]';
export const CIRCULAR = '[Circular]';
export const TOO_DEEP = '[Too deep]';
export const TOO_LARGE = '[Too large]';

/**
 * The bytes of a Uint8Array (a Buffer too), a DataView or an ArrayBuffer (what
 * `response.arrayBuffer()` gives; it has no fields, and was stored as `{}`), stored as
 * bytes; else undefined.
 */
export function bytesOf(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof DataView) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (types.isAnyArrayBuffer(value)) return new Uint8Array(value);
  return undefined;
}

/**
 * What stands for an object when it is stored, if anything does: the primitive a boxed
 * primitive holds (`new String('abc')`, `Object(1n)`; as an object it was
 * `{"0":"a","1":"b","2":"c"}`, or `{}` for a number), else what its toJSON() gives. Both
 * sides count the object and its stand-in as one value (read back from the journal, a
 * Date is one string). A toJSON that throws throws here, for the caller's placeholder.
 */
export function standIn(object: object): { value: unknown } | undefined {
  if (types.isBoxedPrimitive(object)) return { value: object.valueOf() };
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  return typeof toJSON === 'function' ? { value: toJSON.call(object) } : undefined;
}

/** A typed array of numbers or bigints (not Uint8Array, which is bytes). */
export function isNumberArray(value: object): value is ArrayLike<number | bigint> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof Uint8Array);
}

/** The first `count` entries of a Map or items of a Set, without spreading the rest (a Map of millions). */
export function firstOf<T>(iterable: Iterable<T>, count: number): T[] {
  const first: T[] = [];
  if (count <= 0) return first;
  for (const item of iterable) {
    first.push(item);
    if (first.length >= count) break;
  }
  return first;
}

/**
 * The first `count` entries of a Map as JSON can hold them: an object while each key is a
 * string, number, boolean, bigint, null or undefined and no two read alike as object
 * keys; else the list of its [key, value] pairs, each key a value of its own. As an
 * object, keys that read alike (1 and '1', NaN and 'NaN', any two objects: "[object Object]")
 * kept only the last entry, and a symbol key was left out, without a marker.
 */
export function mapForJson(map: Map<unknown, unknown>, count: number): object {
  const entries = firstOf(map, count);
  const names = new Set<string>();
  for (const [key] of entries) {
    if (typeof key === 'object' ? key !== null : typeof key === 'symbol' || typeof key === 'function') return entries;
    const name = String(key);
    if (names.has(name)) return entries;
    names.add(name);
  }
  return Object.fromEntries(entries);
}

/**
 * A span's or event's name as text, on both sides alike: plain JavaScript can pass any
 * value. The exporter took String() of it, the journal the value itself, so recovery named
 * the span "[object Object]" for an object with a toString, or "" for a symbol (a review).
 */
export function nameText(name: unknown): string {
  if (typeof name === 'string') return name;
  if (name === undefined || name === null) return '';
  try {
    return String(name);
  } catch {
    return UNSERIALIZABLE;
  }
}

/** `text` cut to `max` characters, saying how many more there were. */
export function cutText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}
