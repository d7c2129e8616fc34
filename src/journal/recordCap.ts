// One record must fit in one frame: the reader takes a length above MAX_PAYLOAD_BYTES
// (64 MiB) for damage, so a larger record would be written and never read back (the span
// lost, and everything after it skipped as damage). Such a record is cut down instead, in
// one pass over a budget of JSON characters: the record's own fields whole, its contents
// (attributes, body, events, links) as far as the budget goes, and the record says so in
// an attribute. Only records that big pay for this; the common check is one multiplication.
import { MAX_PAYLOAD_BYTES } from './frame.js';

/** On a span whose journal record was cut to fit: how many values were shortened or left out. */
export const ATTR_TRUNCATED = 'otel_blackbox.truncated';

/**
 * JSON text a capped record may take, in UTF-16 units: at 3 UTF-8 bytes each at most, it
 * fits one frame, with room to spare for the truncation mark.
 */
const BUDGET_CHARS = Math.floor(MAX_PAYLOAD_BYTES / 3) - 1024;
/**
 * A record's contents, filled in this order until the budget is spent: where bytes are
 * (short paths, needed to decode what is kept), attributes (at most half the budget in a
 * log record, whose body is its line's text: attributes that took it all left no body),
 * a log record's body, events, links. Every
 * other key (ids, times, name, kind, status, scope, resource id, sequence, severity) is
 * the record itself and is kept whole, its strings held to FIELD_CHARS: cut away, a log
 * line from inside a span was stored as outside any span, and a span lost its name.
 */
const CONTENT_KEYS = ['ab', 'bb', 'a', 'b', 'ev', 'l'] as const;
const FIELD_CHARS = 64 * 1024;
/** Entries are no longer added once less than this is left: no lists of empty strings. */
const MIN_ENTRY_CHARS = 16;
/** Nor events or links: each keeps its own fields whole. */
const MIN_RECORD_CHARS = 256;

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
 * JSON of `record` (JSON-safe data) cut down to fit one frame, in one pass: its own fields
 * whole, then its contents (CONTENT_KEYS) as far as the budget goes, strings cut and
 * entries left out where it ends. A record with attributes (`a`) gets ATTR_TRUNCATED there,
 * counting what was shortened or left out. Each string is measured as JSON on its own, cut
 * first to the budget, so a value whose JSON would be longer than V8 allows a string to be
 * (a body of 90 million control characters) is cut, not thrown on.
 */
export function cappedRecordJson(record: unknown): string {
  recordsCapped += 1;
  const budget = new Budget(BUDGET_CHARS);
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return JSON.stringify(budget.value(record));
  const copy = budget.record(record as Record<string, unknown>, CONTENT_KEYS, FIELD_CHARS);
  const attributes = copy.a;
  if (attributes !== null && typeof attributes === 'object' && !Array.isArray(attributes)) {
    (attributes as Record<string, unknown>)[ATTR_TRUNCATED] = budget.shortened;
  }
  const json = JSON.stringify(copy);
  if (fitsInFrame(json)) return json;
  // Only if the record's own fields outgrew the budget (each held to FIELD_CHARS): its
  // events and links go, then its body; the span or line itself is kept.
  for (const key of ['ev', 'l'] as const) if (Array.isArray(copy[key])) copy[key] = [];
  delete copy.b;
  return JSON.stringify(copy);
}

/** A copy that takes at most `left` characters of JSON, filled in the order it is asked for. */
class Budget {
  /** Strings cut, and entries left out. */
  shortened = 0;

  constructor(private left: number) {}

  /**
   * A record (the journal's own, or an event or link in it): its fields whole (strings held
   * to `fieldChars`), then `contentKeys` in that order as far as the budget goes, in the
   * record's own key order (the text path and the object path write the same JSON).
   */
  record(source: Record<string, unknown>, contentKeys: readonly string[], fieldChars: number): Record<string, unknown> {
    const kept = new Map<string, unknown>();
    for (const [key, value] of Object.entries(source)) if (!contentKeys.includes(key)) kept.set(key, this.field(key, value, fieldChars));
    const hasBody = Object.hasOwn(source, 'b');
    for (const key of contentKeys) {
      if (!Object.hasOwn(source, key)) continue;
      kept.set(key, key === 'a' && hasBody ? this.within(BUDGET_CHARS / 2, () => this.entry(key, source[key])) : this.entry(key, source[key]));
    }
    const copy = Object.create(null) as Record<string, unknown>;
    for (const key of Object.keys(source)) if (kept.get(key) !== undefined) copy[key] = kept.get(key);
    return copy;
  }

  /** What `fill` makes with at most `chars` of what is left; the rest stays for later keys. */
  within<T>(chars: number, fill: () => T): T {
    const before = this.left;
    const allowed = Math.min(before, chars);
    this.left = allowed;
    const value = fill();
    this.left = before - (allowed - this.left);
    return value;
  }

  /** A record's own field: whole, but for strings longer than `limit`. */
  field(key: string, value: unknown, limit = FIELD_CHARS): unknown {
    const copy = this.fieldValue(value, limit);
    this.left -= JSON.stringify(key).length + 2 + (JSON.stringify(copy)?.length ?? 0);
    return copy;
  }

  /**
   * A content key of the record: what the budget has room for, an empty list or map when
   * none. Events and links are records of their own: kept whole but for their attributes,
   * or left out whole (a reader needs an event's name and time).
   */
  entry(key: string, value: unknown): unknown {
    const keyChars = JSON.stringify(key).length + 2;
    const empty = Array.isArray(value) ? [] : value !== null && typeof value === 'object' ? {} : undefined;
    if (this.left < keyChars + MIN_ENTRY_CHARS) {
      if (!isEmpty(value)) this.shortened += 1;
      return empty;
    }
    this.left -= keyChars;
    if ((key === 'ev' || key === 'l') && Array.isArray(value)) return this.records(value);
    return this.value(value);
  }

  private records(values: unknown[]): unknown[] {
    this.left -= 2;
    const copy: unknown[] = [];
    for (let i = 0; i < values.length; i++) {
      if (this.left < MIN_RECORD_CHARS) {
        this.shortened += values.length - i;
        break;
      }
      const item = values[i];
      // An event's name may be long: held to what is left, not to FIELD_CHARS.
      const limit = Math.min(FIELD_CHARS, Math.max(MIN_ENTRY_CHARS, this.left - MIN_RECORD_CHARS));
      copy.push(item === null || typeof item !== 'object' || Array.isArray(item) ? this.value(item) : this.record(item as Record<string, unknown>, ['a'], limit));
      this.left -= 1;
    }
    return copy;
  }

  private fieldValue(value: unknown, limit: number): unknown {
    if (typeof value === 'string') return this.cut(value, limit);
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => this.fieldValue(item, limit));
    const copy: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [key, item] of Object.entries(value)) copy[key] = this.fieldValue(item, limit);
    return copy;
  }

  value(value: unknown): unknown {
    if (typeof value === 'string') return this.string(value);
    if (value === null || typeof value !== 'object') {
      this.left -= JSON.stringify(value)?.length ?? 4;
      return value;
    }
    this.left -= 2;
    if (Array.isArray(value)) {
      const copy: unknown[] = [];
      for (let i = 0; i < value.length; i++) {
        if (this.left < MIN_ENTRY_CHARS) {
          this.shortened += value.length - i;
          break;
        }
        copy.push(this.value(value[i]));
        this.left -= 1;
      }
      return copy;
    }
    // No prototype: an attribute named __proto__ is a key like any other.
    const copy: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const entries = Object.entries(value);
    for (let i = 0; i < entries.length; i++) {
      const [key, item] = entries[i]!;
      const keyChars = key.length <= this.left ? JSON.stringify(key).length + 2 : Infinity;
      if (this.left < keyChars + MIN_ENTRY_CHARS) {
        this.shortened += entries.length - i;
        break;
      }
      this.left -= keyChars;
      copy[key] = this.value(item);
    }
    return copy;
  }

  /** As much of `value` as the budget holds, measured as JSON (escapes count: a control character takes 6). */
  private string(value: string): string {
    let kept = prefix(value, Math.max(0, this.left - 2));
    let json = JSON.stringify(kept);
    while (json.length > this.left && kept.length > 0) {
      kept = prefix(kept, Math.floor((kept.length * Math.max(0, this.left - 2)) / json.length));
      json = JSON.stringify(kept);
    }
    if (kept.length < value.length) this.shortened += 1;
    this.left -= json.length;
    return kept;
  }

  private cut(value: string, chars: number): string {
    if (value.length <= chars) return value;
    this.shortened += 1;
    return prefix(value, chars);
  }
}

function isEmpty(value: unknown): boolean {
  if (Array.isArray(value)) return value.length === 0;
  if (value !== null && typeof value === 'object') return Object.keys(value).length === 0;
  return value === undefined;
}

/** The first `chars` UTF-16 units of `value` at most, never splitting a surrogate pair. */
function prefix(value: string, chars: number): string {
  if (value.length <= chars) return value;
  const end = chars > 0 && isHighSurrogate(value.charCodeAt(chars - 1)) ? chars - 1 : chars;
  return value.slice(0, end);
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
