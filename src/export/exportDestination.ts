// Where an exporter sends spans, as a journal records it: the destination it names
// (PostgresSpanExporter's `destination`: its database and schema, without credentials),
// or, for one that names none (OTLP, a file), its class. Recovery exports a dead journal
// only to the destination it was written for.
import type { SpanExporter } from '@opentelemetry/sdk-trace';

export interface ExportTarget {
  /** The destination the exporter names. */
  destination?: string;
  /** The class of an exporter that names no destination. */
  noDestination?: string;
}

export function exportTarget(exporter: SpanExporter): ExportTarget {
  const destination = (exporter as { destination?: unknown }).destination;
  if (typeof destination === 'string' && destination !== '') return { destination };
  return { noDestination: classOf(exporter) };
}

/** The target in a sentence: its destination, or the class of an exporter that names none. */
export function describeTarget(target: { destination?: unknown; noDestination?: unknown }): string {
  if (target.destination !== undefined) return String(target.destination);
  return `an exporter of class ${String(target.noDestination ?? 'unknown')}, which names no destination`;
}

/**
 * Whether a recovery exporting to `recovering` takes a journal whose header says it was
 * written for `written`. A named destination is taken by the same destination only. One
 * written through an exporter that names none is taken by any recovery through an
 * exporter that names none (where either sends spans is not known: a script recovering
 * with a console exporter), and not by one that names a destination: a service exporting
 * to PostgreSQL took the journal of another sharing its journalDir, whose spans went to a
 * collector, into its own tables (a review: 21 of 406 spans never reached their
 * collector). A header of an earlier version says neither, and any takes it. (noDestination
 * is a field of its own, destination absent, so that earlier versions take these
 * journals as they always did: with the class in destination, they left them alone.)
 */
export function recoversFor(written: { destination?: unknown; noDestination?: unknown } | undefined, recovering: ExportTarget): boolean {
  if (written?.destination !== undefined) return written.destination === recovering.destination;
  if (written?.noDestination !== undefined) return recovering.destination === undefined;
  return true;
}

function classOf(exporter: object): string {
  try {
    const name: unknown = exporter.constructor?.name;
    return typeof name === 'string' && name !== '' ? name : 'Object';
  } catch {
    return 'unknown';
  }
}
