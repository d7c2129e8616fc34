// A resource's columns are written into every span and log row of its process, so a large
// one is multiplied by the batch: a 20 MB `service.name` made a batch of 58 spans a
// message of over 1 GB, which PostgreSQL refuses ("invalid message length"), at every
// attempt, with 1.3 GB of memory allocated each time (an attack; 2 MB of resource is
// already 1 GB for a batch of 512). What is stored of a resource is bounded: its values
// are cut past VALUE_CHARS, its attributes dropped past JSON_CHARS, and a marker says so.
import type { Attributes } from '@opentelemetry/api';
import { cutText } from '../valueLimits.js';
import { toJsonText } from './sanitize.js';

/** The resource JSON stored whole up to this many characters. */
export const RESOURCE_JSON_CHARS = 64 * 1024;
/** Past RESOURCE_JSON_CHARS, each value's JSON is kept up to this many characters. */
const VALUE_CHARS = 1024;
/** The service name stored, as at most this many characters. */
export const SERVICE_NAME_CHARS = 1024;
/** Set on a resource stored cut: how many characters its JSON had. */
export const ATTR_RESOURCE_CUT = 'otel_blackbox.resource.cut_from_chars';

/** The resource's attributes as JSON text of at most about RESOURCE_JSON_CHARS characters. */
export function boundedResourceJson(attributes: Attributes): string {
  const whole = toJsonText(attributes);
  if (whole.length <= RESOURCE_JSON_CHARS) return whole;
  const kept: Record<string, unknown> = { [ATTR_RESOURCE_CUT]: whole.length };
  let chars = 0;
  for (const [key, value] of Object.entries(attributes)) {
    const text = toJsonText(value);
    const stored = text.length <= VALUE_CHARS ? value : typeof value === 'string' ? cutText(value, VALUE_CHARS) : cutText(text, VALUE_CHARS);
    chars += key.length + Math.min(text.length, VALUE_CHARS + 40) + 4;
    if (chars > RESOURCE_JSON_CHARS) break;
    kept[cutText(key, VALUE_CHARS)] = stored;
  }
  return toJsonText(kept);
}

/** The service name column: the name, cut past SERVICE_NAME_CHARS. */
export function boundedServiceName(name: string | null): string | null {
  return name === null ? null : cutText(name, SERVICE_NAME_CHARS);
}
