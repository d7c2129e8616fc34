// A journal at maxJournalBytes cannot protect the spans that start: that is said, once per
// episode, with its end, and stats() tells it. A cap too small to hold anything is refused
// in code and ignored, with a warning, from the environment: a review set
// OTEL_BLACKBOX_MAX_JOURNAL_BYTES=1024 (meaning KiB), and a SIGKILL lost every span with no
// word said, while stats() called the journal healthy.
import { diag } from '@opentelemetry/api';
import { afterEach, expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
afterEach(() => {
  diag.disable();
  delete process.env.OTEL_BLACKBOX_MAX_JOURNAL_BYTES;
});

test.each([
  ['maxJournalBytes', 1024, 'at least 8192'],
  ['maxJournalBytes', 8191, 'at least 8192'],
  ['maxSegmentBytes', 1, 'at least 4096'],
  ['maxSegmentBytes', 4095.5, 'at least 4096'],
])('%s: %d is refused with a sentence naming the option and the least it takes', (option, value, least) => {
  const make = () => new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: tempDir(), recover: false, [option]: value });
  expect(make).toThrow(new RegExp(`Invalid option ${option}: expected a whole number of bytes, ${least}`));
});

test('a cap from the environment below the least is ignored, with a warning that says the value is in bytes; the journal works', async () => {
  const messages = collectDiag();
  process.env.OTEL_BLACKBOX_MAX_JOURNAL_BYTES = '1024';
  const exporter = new CollectingExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false });
  expect(messages).toContainEqual(expect.stringContaining('ignoring OTEL_BLACKBOX_MAX_JOURNAL_BYTES=1024: at least 8192 bytes'));
  const tracer = providerWith(processor).getTracer('t');
  for (let i = 0; i < 50; i++) tracer.startSpan(`op ${i}`).end();
  expect(processor.stats()).toMatchObject({ journalHealthy: true, journalFull: false, spansDropped: 0 });
  await processor.forceFlush();
  expect(exporter.spans).toHaveLength(50);
  await processor.shutdown();
});

test('a journal at its cap says so once, stats() tells it, and when commits free a segment it says how many spans started meanwhile without crash protection', async () => {
  const messages = collectDiag();
  const exporter = new CollectingExporter();
  exporter.failing = true;
  const processor = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, maxJournalBytes: 8192, maxQueueSize: 10_000, scheduledDelayMillis: 5 });
  const tracer = providerWith(processor).getTracer('t');
  const fullLines = () => messages.filter((m) => m.includes('the journal is at maxJournalBytes (8192 bytes)'));
  let started = 0;
  while (!processor.stats().journalFull && started < 1000) tracer.startSpan(`op ${started++}`, { attributes: { pad: 'x'.repeat(100) } }).end();
  expect(processor.stats()).toMatchObject({ journalHealthy: true, journalFull: true });
  expect(fullLines()).toHaveLength(1);
  expect(fullLines()[0]).toContain('a crash would leave no crash record of them');
  // More spans while it stays full: counted, not said again.
  for (let i = 0; i < 20; i++) tracer.startSpan(`more ${i}`).end();
  expect(fullLines()).toHaveLength(1);
  exporter.failing = false;
  await processor.forceFlush();
  tracer.startSpan('after').end();
  expect(processor.stats().journalFull).toBe(false);
  expect(messages.filter((m) => m.includes('the journal has room again'))).toEqual([expect.stringMatching(/ 21 spans started meanwhile without a START in the journal\.$/)]);
  await processor.forceFlush();
  // Nothing was dropped: the spans the journal could not take went through the memory queue.
  expect(processor.stats().spansDropped).toBe(0);
  expect(new Set(exporter.spans.map((span) => span.name)).size).toBe(started + 21);
  await processor.shutdown();
});
