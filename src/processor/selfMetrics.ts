// The processor's own health, reported through the OpenTelemetry metrics API when the
// application registers a MeterProvider. Every instrument is observable and reads one
// stats() snapshot per collection, so the hot path does no metrics work at all; without a
// MeterProvider the global API hands out its no-op meter and nothing is ever called back.
import { metrics } from '@opentelemetry/api';
import type { BatchObservableResult, Meter, MeterProvider, Observable } from '@opentelemetry/api';
import type { JournalProcessorStats } from './JournalSpanProcessor.js';

const METER_NAME = 'otel-blackbox';

/** Every instrument, for the README and the test: name, kind, unit, what it counts. */
export const SELF_METRICS = {
  journalBytes: { name: 'otel_blackbox.journal.bytes', kind: 'updowncounter', unit: 'By', description: 'Bytes the journal takes on disk: its segments not yet deleted (mapped ones preallocated whole) and side files' },
  journalBytesWritten: { name: 'otel_blackbox.journal.bytes_written', kind: 'counter', unit: 'By', description: 'Bytes the journal has written (records, segment heads, STARTs of long-open spans carried forward)' },
  journalSegments: { name: 'otel_blackbox.journal.segments', kind: 'updowncounter', unit: '{segment}', description: 'Journal segment files on disk' },
  journalWritePath: { name: 'otel_blackbox.journal.write_path', kind: 'gauge', unit: '1', description: "1 for the journal write path in use (attribute 'path': mmap, write, memory or none)" },
  backlog: { name: 'otel_blackbox.export.backlog', kind: 'updowncounter', unit: '{span}', description: "Ended spans waiting for the exporter (attribute 'queue': journal or memory)" },
  spansExported: { name: 'otel_blackbox.spans.exported', kind: 'counter', unit: '{span}', description: 'Spans the exporter accepted' },
  logRecordsExported: { name: 'otel_blackbox.log_records.exported', kind: 'counter', unit: '{log_record}', description: 'Log records the exporter accepted' },
  logRecordsDropped: { name: 'otel_blackbox.log_records.dropped', kind: 'counter', unit: '{log_record}', description: "Log records that could not be journaled and are lost (attribute 'reason')" },
  spansDropped: { name: 'otel_blackbox.spans.dropped', kind: 'counter', unit: '{span}', description: "Spans neither journaled nor queued (attribute 'reason')" },
  exportFailures: { name: 'otel_blackbox.export.failures', kind: 'counter', unit: '{export}', description: 'Export attempts that failed (each is retried)' },
  deadLetters: { name: 'otel_blackbox.dead_letters', kind: 'counter', unit: '{span}', description: 'Spans the database refused for good, written to dead_letters' },
  spansRecovered: { name: 'otel_blackbox.recovery.spans', kind: 'counter', unit: '{span}', description: 'Ended spans of dead processes exported by recovery' },
  crashRecords: { name: 'otel_blackbox.recovery.crash_records', kind: 'counter', unit: '{span}', description: 'Crash records written for spans of dead processes' },
  hotPathErrors: { name: 'otel_blackbox.hot_path.errors', kind: 'counter', unit: '{error}', description: 'Errors caught in onStart/onEnd instead of reaching the application' },
} as const;

const WRITE_PATHS = ['mmap', 'write', 'memory', 'none'] as const;

/**
 * Registers the instruments on the global MeterProvider. NodeSDK sets that provider in
 * `start()`, after the application constructed its span processors, so the provider is
 * looked up again once the current synchronous start-up has run.
 */
export function reportSelfMetrics(stats: () => JournalProcessorStats): void {
  const first = metrics.getMeterProvider();
  register(first, stats);
  setImmediate(() => {
    const later = metrics.getMeterProvider();
    if (later !== first) register(later, stats);
  }).unref();
}

function register(provider: MeterProvider, stats: () => JournalProcessorStats): void {
  const meter = provider.getMeter(METER_NAME);
  const instruments = Object.fromEntries(
    Object.entries(SELF_METRICS).map(([key, spec]) => [key, create(meter, spec)]),
  ) as Record<keyof typeof SELF_METRICS, Observable>;
  meter.addBatchObservableCallback((result) => observe(result, instruments, stats()), Object.values(instruments));
}

function create(meter: Meter, spec: (typeof SELF_METRICS)[keyof typeof SELF_METRICS]): Observable {
  const options = { unit: spec.unit, description: spec.description };
  if (spec.kind === 'counter') return meter.createObservableCounter(spec.name, options);
  if (spec.kind === 'updowncounter') return meter.createObservableUpDownCounter(spec.name, options);
  return meter.createObservableGauge(spec.name, options);
}

function observe(result: BatchObservableResult, i: Record<keyof typeof SELF_METRICS, Observable>, s: JournalProcessorStats): void {
  result.observe(i.journalBytes, s.journalBytes);
  result.observe(i.journalSegments, s.journalSegments);
  result.observe(i.journalBytesWritten, s.journalBytesWritten);
  for (const path of WRITE_PATHS) result.observe(i.journalWritePath, path === s.journalWritePath ? 1 : 0, { path });
  result.observe(i.backlog, s.journalBacklog, { queue: 'journal' });
  result.observe(i.backlog, s.memoryQueueLength, { queue: 'memory' });
  result.observe(i.spansExported, s.spansExported);
  result.observe(i.logRecordsExported, s.logRecordsExported);
  for (const [reason, count] of Object.entries(s.logRecordsDroppedByReason)) result.observe(i.logRecordsDropped, count, { reason });
  for (const [reason, count] of Object.entries(s.spansDroppedByReason)) result.observe(i.spansDropped, count, { reason });
  result.observe(i.exportFailures, s.exportFailures);
  result.observe(i.deadLetters, s.deadLetters);
  result.observe(i.spansRecovered, s.spansRecovered);
  result.observe(i.crashRecords, s.crashRecordsWritten);
  result.observe(i.hotPathErrors, s.hotPathErrors);
}
