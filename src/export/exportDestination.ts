// The destination an exporter names: PostgresSpanExporter's `destination` (its database
// and schema, without credentials). The processor records it in its journal; recovery
// exports a dead journal only to the destination it was written for.
import type { SpanExporter } from '@opentelemetry/sdk-trace';

const UNNAMED = ', which names no destination';

/**
 * What the exporter names, or, for one that names none (OTLP, a file), its class, said as
 * one that names none. Left undefined, as in journals of earlier versions, such a journal
 * could not be told from theirs.
 */
export function exportDestination(exporter: SpanExporter): string {
  const destination = (exporter as { destination?: unknown }).destination;
  if (typeof destination === 'string' && destination !== '') return destination;
  return `an exporter of class ${classOf(exporter)}${UNNAMED}`;
}

/**
 * Whether a recovery exporting to `recovering` takes a journal written for `written`
 * (undefined: a journal of an earlier version, which any takes). The same destination
 * does; so does any exporter that names none for a journal of one that named none, since
 * where either sends spans is not known (a script recovering with a console exporter).
 * A named destination takes nothing else: a service exporting to PostgreSQL took the
 * journal of another sharing its journalDir, whose spans went to a collector, into its
 * own tables (a review: 21 of 406 spans never reached their collector).
 */
export function recoversFor(written: string | undefined, recovering: string): boolean {
  return written === undefined || written === recovering || (written.endsWith(UNNAMED) && recovering.endsWith(UNNAMED));
}

function classOf(exporter: object): string {
  try {
    const name: unknown = exporter.constructor?.name;
    return typeof name === 'string' && name !== '' ? name : 'Object';
  } catch {
    return 'unknown';
  }
}
