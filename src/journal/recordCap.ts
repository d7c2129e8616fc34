// One record must fit in one frame: the reader takes a length above MAX_PAYLOAD_BYTES
// (64 MiB) for damage, so a larger record would be written and never read back (the span
// lost, and everything after it skipped as damage). Such a record is cut down instead:
// strings, arrays and maps longer than a limit are shortened, the limit shrinking until
// the record fits, and the span says so in an attribute. Only records that big pay for
// this; the common check is one multiplication.
import { MAX_PAYLOAD_BYTES } from './frame.js';

/** On a span whose journal record was cut to fit: how many values were shortened or left out. */
export const ATTR_TRUNCATED = 'otel_blackbox.truncated';

/** First limit, in UTF-16 units per string: even at 3 UTF-8 bytes each, one such string fits. */
const FIRST_LIMIT = 16 * 1024 * 1024;
const LAST_LIMIT = 64;

export function fitsInFrame(json: string): boolean {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: below that bound no byte count is needed.
  return json.length * 3 <= MAX_PAYLOAD_BYTES || Buffer.byteLength(json) <= MAX_PAYLOAD_BYTES;
}

/** Records cut down so far in this process (see cappedRecordCount). */
let recordsCapped = 0;

/**
 * How many records have been cut down so far: a caller that reads it before and after
 * encoding a record knows whether that record was, whichever way it was encoded and
 * however small the result came out (a record with its attributes left out is small).
 */
export function cappedRecordCount(): number {
  return recordsCapped;
}

/**
 * JSON of `record` (JSON-safe data) cut down to fit one frame. A record with attributes
 * (`a`) gets ATTR_TRUNCATED there; when even the smallest limit is not enough, its
 * attributes, events and links are left out and only the span itself is kept.
 */
export function cappedRecordJson(record: unknown): string {
  recordsCapped += 1;
  for (let limit = FIRST_LIMIT; limit >= LAST_LIMIT; limit /= 4) {
    const cap = new Cap(limit);
    const json = JSON.stringify(marked(cap.value(record), cap.shortened));
    if (fitsInFrame(json)) return json;
  }
  const cap = new Cap(LAST_LIMIT);
  const bare = cap.value(record) as Record<string, unknown>;
  let left = 0;
  for (const key of ['a', 'ev', 'l'] as const) {
    const value = bare[key];
    if (value === undefined) continue;
    left += Array.isArray(value) ? value.length : Object.keys(value as object).length;
    bare[key] = Array.isArray(value) ? [] : {};
  }
  delete bare.ab;
  return JSON.stringify(marked(bare, cap.shortened + left));
}

function marked(record: unknown, shortened: number): unknown {
  if (record !== null && typeof record === 'object' && 'a' in record && typeof record.a === 'object') {
    (record.a as Record<string, unknown>)[ATTR_TRUNCATED] = shortened;
  }
  return record;
}

/** A copy with every string, array and map held to `limit` (arrays and maps to limit / 16 entries). */
class Cap {
  shortened = 0;
  private readonly entries: number;

  constructor(private readonly limit: number) {
    this.entries = Math.max(4, limit / 16);
  }

  value(value: unknown): unknown {
    if (typeof value === 'string') return this.string(value);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) {
      const kept = value.length > this.entries ? this.cut(value.slice(0, this.entries)) : value;
      return kept.map((item) => this.value(item));
    }
    const copy: Record<string, unknown> = Object.create(null);
    let count = 0;
    for (const [key, item] of Object.entries(value)) {
      // Where the bytes are: paths, short, and needed to decode what is kept.
      if (key === 'ab') {
        copy[key] = item;
        continue;
      }
      if (++count > this.entries) {
        this.shortened += 1;
        break;
      }
      copy[key] = this.value(item);
    }
    return copy;
  }

  private string(value: string): string {
    if (value.length <= this.limit) return value;
    this.shortened += 1;
    // The limit is a multiple of 4, so base64 text stays whole bytes; never split a surrogate pair.
    const end = isHighSurrogate(value.charCodeAt(this.limit - 1)) ? this.limit - 1 : this.limit;
    return value.slice(0, end);
  }

  private cut<T>(values: T[]): T[] {
    this.shortened += 1;
    return values;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
