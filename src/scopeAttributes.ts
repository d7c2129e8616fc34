// A logger's scope attributes (`getLogger(name, version, { attributes })`, on the scope
// since sdk-logs 0.5x), as the journal and the PostgreSQL exporter both take them: a map
// with at least one key. Anything else is none: a string or an array (a hand-made scope)
// was journaled as a map of its characters, and a map whose keys throw when read made the
// exporter dead-letter every record of its logger, body and all (an attack).
import type { Attributes } from '@opentelemetry/api';

export function scopeAttributes(scope: unknown): Attributes | undefined {
  try {
    const attributes = (scope as { attributes?: unknown } | null | undefined)?.attributes;
    if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) return undefined;
    for (const _ in attributes) return attributes as Attributes;
  } catch {
    // A scope or map whose reading throws: nothing kept, as for any attribute that throws.
  }
  return undefined;
}
