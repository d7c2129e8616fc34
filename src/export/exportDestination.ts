// The destination an exporter names, if it names one: PostgresSpanExporter's `destination`
// (its database and schema, without credentials). The processor records it in its
// journal; recovery exports a dead journal only to the destination it was written for.
import type { SpanExporter } from '@opentelemetry/sdk-trace';

export function exportDestination(exporter: SpanExporter): string | undefined {
  const destination = (exporter as { destination?: unknown }).destination;
  return typeof destination === 'string' && destination !== '' ? destination : undefined;
}
