// A resource's columns are written into every span and log row of its process, and a
// scope's into every span row of its tracer, so a large one is multiplied by the batch: a
// 20 MB `service.name` made a batch of 58 spans a message of over 1 GB, which PostgreSQL
// refuses ("invalid message length"), at every attempt, with 1.3 GB of memory allocated
// each time (an attack; 2 MB of resource is already 1 GB for a batch of 512). What is
// stored of them is bounded: a resource's values are cut past VALUE_CHARS and its
// attributes left out past JSON_CHARS, with a marker that says so; names, versions and
// schema URLs are cut past TEXT_CHARS.
import type { Attributes } from '@opentelemetry/api';
import { cutText } from '../valueLimits.js';
import { toJsonText } from './sanitize.js';

/** The resource JSON stored whole up to this many characters. */
export const RESOURCE_JSON_CHARS = 64 * 1024;
/** Past RESOURCE_JSON_CHARS, each value's JSON is kept up to this many characters. */
const VALUE_CHARS = 1024;
/** A resource of more attributes than this is not serialised whole to be measured: a million took a 300 MB heap past its end. */
const WHOLE_ATTRIBUTES = 4096;
/** A service name, a scope's name or version, a schema URL: stored as at most this many characters. */
export const TEXT_CHARS = 1024;
/** Set on a resource stored cut: how many of its attributes were kept. */
export const ATTR_RESOURCE_CUT = 'otel_blackbox.resource.cut';
/** The same, on a logger's scope attributes (written into each of its log rows, as a resource is). */
export const ATTR_SCOPE_CUT = 'otel_blackbox.scope.cut';

/** The resource's attributes (or a scope's, `marker` ATTR_SCOPE_CUT) as JSON text of at most about RESOURCE_JSON_CHARS characters. */
export function boundedResourceJson(attributes: Attributes, marker = ATTR_RESOURCE_CUT): string {
  let count = 0;
  for (const key in attributes) if (Object.hasOwn(attributes, key) && ++count > WHOLE_ATTRIBUTES) break;
  if (count <= WHOLE_ATTRIBUTES) {
    const whole = toJsonText(attributes);
    if (whole.length <= RESOURCE_JSON_CHARS) return whole;
  }
  return cutResourceJson(attributes, marker);
}

/** Its attributes in order, each value cut past VALUE_CHARS, until RESOURCE_JSON_CHARS are spent; the rest are only counted. */
function cutResourceJson(attributes: Attributes, marker: string): string {
  const kept: Record<string, unknown> = {};
  let chars = 0;
  let total = 0;
  let keptCount = 0;
  let full = false;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    total += 1;
    if (full) continue;
    const value: unknown = attributes[key];
    const text = toJsonText(value);
    const stored = text.length <= VALUE_CHARS ? value : typeof value === 'string' ? cutText(value, VALUE_CHARS) : cutText(text, VALUE_CHARS);
    const storedKey = cutText(key, VALUE_CHARS);
    chars += toJsonText(storedKey).length + toJsonText(stored).length + 2;
    if (chars > RESOURCE_JSON_CHARS) {
      full = true;
      continue;
    }
    kept[storedKey] = stored;
    keptCount += 1;
  }
  return toJsonText({ [marker]: `${keptCount} of ${total} attributes kept, values cut past ${VALUE_CHARS} characters`, ...kept });
}

/** A service name, scope name or version, schema URL: cut past TEXT_CHARS. */
export function boundedText(text: string | null): string | null {
  return text === null ? null : cutText(text, TEXT_CHARS);
}
