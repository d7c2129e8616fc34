// The processor's own health, reported through the OpenTelemetry metrics API when the
// application registers a MeterProvider. Every instrument is observable and reads one
// stats() snapshot per collection, so the hot path does no metrics work at all; without a
// MeterProvider the global API hands out its no-op meter and nothing is ever called back.
import { metrics } from '@opentelemetry/api';
import type { Attributes, BatchObservableResult, Meter, MeterProvider, Observable } from '@opentelemetry/api';
import { safeDiag } from '../safeDiag.js';
import type { JournalProcessorStats } from './JournalSpanProcessor.js';

const METER_NAME = 'otel-blackbox';

/** Every instrument, for the README and the test: name, kind, unit, what it counts. */
export const SELF_METRICS = {
  journalBytes: { name: 'otel_blackbox.journal.bytes', kind: 'updowncounter', unit: 'By', description: 'Bytes the journal takes on disk: its segments not yet deleted (mapped ones preallocated whole) and side files' },
  journalBytesWritten: { name: 'otel_blackbox.journal.bytes_written', kind: 'counter', unit: 'By', description: 'Bytes the journal has written (records, segment heads, STARTs of long-open spans carried forward)' },
  journalSegments: { name: 'otel_blackbox.journal.segments', kind: 'updowncounter', unit: '{segment}', description: 'Journal segment files on disk' },
  journalWritePath: { name: 'otel_blackbox.journal.write_path', kind: 'gauge', unit: '1', description: "1 for the journal write path in use (attribute 'path': mmap, write, memory or none)" },
  backlog: { name: 'otel_blackbox.export.backlog', kind: 'updowncounter', unit: '{record}', description: "Ended spans and log records waiting for the exporter (attribute 'queue': journal or memory)" },
  openSpans: { name: 'otel_blackbox.spans.open', kind: 'updowncounter', unit: '{span}', description: 'Spans started and not ended that the journal keeps for their crash records' },
  spansAbandoned: { name: 'otel_blackbox.spans.abandoned', kind: 'counter', unit: '{span}', description: 'Spans the application dropped without ending them (garbage-collected while open): each gets a crash record saying so' },
  spansExported: { name: 'otel_blackbox.spans.exported', kind: 'counter', unit: '{span}', description: "Ended spans the exporter accepted and kept (not the overflow marker, the 'started' rows of spans still open, nor spans refused for good)" },
  logRecordsExported: { name: 'otel_blackbox.log_records.exported', kind: 'counter', unit: '{log_record}', description: 'Log records the exporter accepted and kept (not those refused for good)' },
  logRecordsDropped: { name: 'otel_blackbox.log_records.dropped', kind: 'counter', unit: '{log_record}', description: "Log records that could not be journaled and are lost (attribute 'reason')" },
  spansDropped: { name: 'otel_blackbox.spans.dropped', kind: 'counter', unit: '{span}', description: "Spans neither journaled nor queued (attribute 'reason')" },
  exportFailures: { name: 'otel_blackbox.export.failures', kind: 'counter', unit: '{export}', description: 'Export attempts that failed or timed out (each is retried)' },
  deadLetters: {
    name: 'otel_blackbox.dead_letters',
    kind: 'counter',
    unit: '{record}',
    description: "Spans and log records refused for good: in the dead_letters table, or in the journal directory's dead-letters.jsonl behind another exporter",
  },
  spansRecovered: { name: 'otel_blackbox.recovery.spans', kind: 'counter', unit: '{span}', description: 'Ended spans of dead processes exported by recovery' },
  logRecordsRecovered: { name: 'otel_blackbox.recovery.log_records', kind: 'counter', unit: '{log_record}', description: 'Log records of dead processes exported by recovery' },
  crashRecords: { name: 'otel_blackbox.recovery.crash_records', kind: 'counter', unit: '{span}', description: "Crash records written for spans of dead processes, and at shutdown for this process's spans still open" },
  recoveryRunning: { name: 'otel_blackbox.recovery.running', kind: 'gauge', unit: '1', description: "1 while a recovery of dead processes' journals is under way (its counts grow as each batch commits)" },
  hotPathErrors: { name: 'otel_blackbox.hot_path.errors', kind: 'counter', unit: '{error}', description: 'Errors caught in onStart/onEnd instead of reaching the application' },
} as const;

const WRITE_PATHS = ['mmap', 'write', 'memory', 'none'] as const;

/** Each processor's observations carry this attribute: its number in the process (1, 2, ...). */
export const PROCESSOR_ATTRIBUTE = 'otel_blackbox.processor';

/**
 * A processor's number, given to the next processor made once it shut down: numbers made
 * only grew, a process that makes processors over and over (tests, a library per tenant)
 * reached the SDK's 2,000 series per instrument, and the live processor's values went to
 * its overflow series. Between two processors the number reports the last one as gone:
 * what it counted, and nothing held (the SDK keeps a series' last value, so it reported
 * the journal bytes and backlog of a processor long shut down, and a sum over processors
 * counted them). The next one's counters start at 0 again: to a backend, a counter's
 * reset, as at a process restart.
 */
interface Slot {
  attributes: Attributes;
  stopReportingGone: (() => void) | undefined;
}

const freeSlots: Slot[] = [];
let slotsMade = 0;

function takeSlot(): Slot {
  const slot = freeSlots.shift() ?? { attributes: { [PROCESSOR_ATTRIBUTE]: String(++slotsMade) }, stopReportingGone: undefined };
  slot.stopReportingGone?.();
  slot.stopReportingGone = undefined;
  return slot;
}

/**
 * Registers the instruments on the global MeterProvider, for one processor: its series
 * carry its number (PROCESSOR_ATTRIBUTE), since several processors observing the same
 * instruments with the same attributes left only the last one's value. Returns what
 * stops the live reports (at shutdown): from then on the same callbacks report the
 * processor as gone, nothing held (zero bytes, segments, backlog), its counts as they were
 * then and its drops as they go on (`dropsSince`: spans and log records that come after
 * shutdown are dropped, and counted). The callbacks stay registered until the next
 * processor takes the number: registering anew at shutdown asked a MeterProvider that
 * NodeSDK was shutting down at the same time for a meter, and the SDK warned at every
 * shutdown. Nothing they keep holds the processor: `stats` is let go at the stop.
 */
export function reportSelfMetrics(stats: () => JournalProcessorStats, dropsSince: (gone: JournalProcessorStats) => JournalProcessorStats): () => void {
  const slot = takeSlot();
  let live: (() => JournalProcessorStats) | undefined = stats;
  let gone: JournalProcessorStats | undefined;
  const reporting = reportOnProviders(() => (live !== undefined ? live() : dropsSince(gone!)), slot.attributes);
  return () => {
    if (live === undefined) return;
    gone = { ...live(), journalBytes: 0, journalSegments: 0, journalBacklog: 0, openSpans: 0, memoryQueueLength: 0, journalWritePath: 'none' };
    live = undefined;
    reporting.stopLooking();
    slot.stopReportingGone = reporting.stop;
    freeSlots.push(slot);
    freeSlots.sort((a, b) => Number(a.attributes[PROCESSOR_ATTRIBUTE]) - Number(b.attributes[PROCESSOR_ATTRIBUTE]));
  };
}

/** How often the global MeterProvider is looked up again while the processor runs. */
const PROVIDER_LOOKUP_MILLIS = 1000;

/**
 * On the global MeterProvider, and on each one set later while the processor runs: NodeSDK
 * sets it in `start()`, after the application constructed its span processors, and an
 * application may await something (its secrets, a config) in between; looked up only once
 * more after the synchronous start-up, such a provider never got the metrics, and nothing
 * said so (a review).
 */
function reportOnProviders(stats: () => JournalProcessorStats, attributes: Attributes): { stop: () => void; stopLooking: () => void } {
  const providers = new Set<MeterProvider>();
  const unregisters: (() => void)[] = [];
  // From a timer: a provider that throws (a custom one, another SDK version's) must not become the host's uncaught exception.
  let said = false;
  const lookUp = (): void => {
    try {
      const provider = metrics.getMeterProvider();
      if (providers.has(provider)) return;
      providers.add(provider);
      unregisters.push(register(provider, stats, attributes));
    } catch (error) {
      if (!said) safeDiag.warn(`otel-blackbox: the global MeterProvider refused the processor's metrics: ${(error as Error)?.message ?? String(error)}`);
      said = true;
    }
  };
  lookUp();
  const soon = setImmediate(lookUp).unref();
  const later = setInterval(lookUp, PROVIDER_LOOKUP_MILLIS).unref();
  const stopLooking = (): void => {
    clearImmediate(soon);
    clearInterval(later);
  };
  return {
    stopLooking,
    stop: () => {
      stopLooking();
      for (const unregister of unregisters.splice(0)) unregister();
    },
  };
}

function register(provider: MeterProvider, stats: () => JournalProcessorStats, attributes: Attributes): () => void {
  const meter = provider.getMeter(METER_NAME);
  const instruments = Object.fromEntries(
    Object.entries(SELF_METRICS).map(([key, spec]) => [key, create(meter, spec)]),
  ) as Record<keyof typeof SELF_METRICS, Observable>;
  const callback = (result: BatchObservableResult): void => observe(result, instruments, stats(), attributes);
  meter.addBatchObservableCallback(callback, Object.values(instruments));
  return () => meter.removeBatchObservableCallback(callback, Object.values(instruments));
}

function create(meter: Meter, spec: (typeof SELF_METRICS)[keyof typeof SELF_METRICS]): Observable {
  const options = { unit: spec.unit, description: spec.description };
  if (spec.kind === 'counter') return meter.createObservableCounter(spec.name, options);
  if (spec.kind === 'updowncounter') return meter.createObservableUpDownCounter(spec.name, options);
  return meter.createObservableGauge(spec.name, options);
}

function observe(result: BatchObservableResult, i: Record<keyof typeof SELF_METRICS, Observable>, s: JournalProcessorStats, processor: Attributes): void {
  result.observe(i.journalBytes, s.journalBytes, processor);
  result.observe(i.journalSegments, s.journalSegments, processor);
  result.observe(i.journalBytesWritten, s.journalBytesWritten, processor);
  for (const path of WRITE_PATHS) result.observe(i.journalWritePath, path === s.journalWritePath ? 1 : 0, { ...processor, path });
  result.observe(i.backlog, s.journalBacklog, { ...processor, queue: 'journal' });
  result.observe(i.backlog, s.memoryQueueLength, { ...processor, queue: 'memory' });
  result.observe(i.openSpans, s.openSpans, processor);
  result.observe(i.spansAbandoned, s.spansAbandoned, processor);
  result.observe(i.spansExported, s.spansExported, processor);
  result.observe(i.logRecordsExported, s.logRecordsExported, processor);
  for (const [reason, count] of Object.entries(s.logRecordsDroppedByReason)) result.observe(i.logRecordsDropped, count, { ...processor, reason });
  for (const [reason, count] of Object.entries(s.spansDroppedByReason)) result.observe(i.spansDropped, count, { ...processor, reason });
  result.observe(i.exportFailures, s.exportFailures, processor);
  result.observe(i.deadLetters, s.deadLetters, processor);
  result.observe(i.spansRecovered, s.spansRecovered, processor);
  result.observe(i.crashRecords, s.crashRecordsWritten, processor);
  result.observe(i.logRecordsRecovered, s.logRecordsRecovered, processor);
  result.observe(i.recoveryRunning, s.recoveryRunning ? 1 : 0, processor);
  result.observe(i.hotPathErrors, s.hotPathErrors, processor);
}
