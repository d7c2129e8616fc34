// A journal at maxJournalBytes cannot protect the spans that start: that is said, once per
// episode, with its end, and stats() tells it. A cap too small to hold anything is refused
// in code and ignored, with a warning, from the environment: a review set
// OTEL_BLACKBOX_MAX_JOURNAL_BYTES=1024 (meaning KiB), and a SIGKILL lost every span with no
// word said, while stats() called the journal healthy.
import { diag } from '@opentelemetry/api';
import { afterEach, expect, test, vi } from 'vitest';
import { LoggerProvider } from '@opentelemetry/sdk-logs';
import { JournalLogRecordProcessor, JournalSpanProcessor } from '../../src/index.js';
import { JournalFullNotice } from '../../src/processor/JournalFullNotice.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { CollectingLogExporter } from '../helpers/CollectingLogExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();
afterEach(() => {
  vi.restoreAllMocks();
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
  const tracer = providerWith(processor).getTracer('t');
  for (let i = 0; i < 50; i++) tracer.startSpan(`op ${i}`).end();
  expect(processor.stats()).toMatchObject({ journalHealthy: true, journalFull: false, spansDropped: 0 });
  await processor.forceFlush();
  // Said by then (construction's lines wait for the end of the turn, or a flush: safeDiag.ts).
  expect(messages).toContainEqual(expect.stringContaining('ignoring OTEL_BLACKBOX_MAX_JOURNAL_BYTES=1024: at least 8192 bytes'));
  expect(exporter.spans).toHaveLength(50);
  await processor.shutdown();
});

test('a journal at its cap says so once, however its STARTs come and go; stats() tells it while it lasts; shutdown says how many spans started without a START', async () => {
  const messages = collectDiag();
  const exporter = new CollectingExporter();
  exporter.failing = true;
  const processor = new JournalSpanProcessor({ exporter, journalDir: tempDir(), recover: false, maxJournalBytes: 8192, maxQueueSize: 10_000, scheduledDelayMillis: 5 });
  const tracer = providerWith(processor).getTracer('t');
  const beginLines = () => messages.filter((m) => m.includes('the journal is at maxJournalBytes (8192 bytes)'));
  const pad = { pad: 'x'.repeat(100) };
  let started = 0;
  while (!processor.stats().journalFull && started < 1000) tracer.startSpan(`op ${started++}`, { attributes: pad }).end();
  expect(processor.stats()).toMatchObject({ journalHealthy: true, journalFull: true });
  expect(beginLines()).toHaveLength(1);
  expect(beginLines()[0]).toContain('a crash would leave no crash record of them');
  // More spans while it stays at its cap, large ones refused and tiny ones squeezing in
  // between (a review saw a line pair per tiny START): said once, still at its cap.
  for (let i = 0; i < 20; i++) {
    tracer.startSpan(`more ${i}`, { attributes: pad }).end();
    tracer.startSpan('t').end();
  }
  expect(beginLines()).toHaveLength(1);
  expect(processor.stats().journalFull).toBe(true);
  exporter.failing = false;
  await processor.forceFlush();
  // Committed, the segments are deleted: no longer at its cap once their files are gone.
  await expect.poll(() => processor.stats().journalFull).toBe(false);
  tracer.startSpan('after', { attributes: pad }).end();
  await processor.forceFlush();
  // Nothing was dropped: the spans the journal could not take went through the memory queue.
  expect(processor.stats().spansDropped).toBe(0);
  expect(exporter.spans.filter((span) => span.name !== 't')).toHaveLength(started + 21);
  // The end is said once the journal has had room for a minute, or at shutdown.
  expect(messages.filter((m) => m.includes('spans started without a START'))).toEqual([]);
  await processor.shutdown();
  const endLines = messages.filter((m) => m.includes('spans started without a START'));
  expect(endLines).toHaveLength(1);
  const refused = Number(/and (\d+) spans started without a START/.exec(endLines[0])![1]);
  // The span that found it full, the 20 large ones, and as many tiny ones as were refused.
  expect(refused).toBeGreaterThanOrEqual(21);
  expect(refused).toBeLessThanOrEqual(41);
  expect(endLines[0]).toMatch(/^otel-blackbox: the journal is shutting down; it was at maxJournalBytes for \d+\.\d s/);
});

test('the end of an episode is said once no START was refused for the quiet period and the journal has room at a heartbeat', () => {
  const messages = collectDiag();
  // The notice reads performance.now(): stepped here, so a late timer cannot stretch a wait.
  let now = performance.now();
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  const notice = new JournalFullNotice(8192, 100, 50);
  notice.refused();
  notice.refused();
  notice.tick(false); // within the quiet period
  notice.tick(true);
  expect(messages).toHaveLength(1);
  now += 80;
  notice.tick(true); // quiet, but still at its cap
  expect(messages).toHaveLength(1);
  notice.tick(false);
  expect(messages).toHaveLength(2);
  expect(messages[1]).toMatch(/the journal has had room for 0 s; .* and 2 spans started without a START in the journal\.$/);
  notice.tick(false);
  notice.close();
  expect(messages).toHaveLength(2);
  // A refusal in the quiet period puts the end off; the next episode counts afresh.
  notice.refused();
  now += 30;
  notice.refused();
  now += 30;
  notice.tick(false);
  expect(messages).toHaveLength(3);
  notice.close();
  expect(messages[3]).toMatch(/and 2 spans started without a START in the journal\.$/);
});

// Only a START's refusal set it: an application that only logs dropped 722 of 1,000 records
// at its cap while stats() said journalFull: false (a review).
test('log records refused at the cap make stats().journalFull true, as refused STARTs do', async () => {
  const logExporter = new CollectingLogExporter();
  logExporter.failing = true;
  const spans = new JournalSpanProcessor({ exporter: new CollectingExporter(), logExporter, journalDir: tempDir(), recover: false, maxJournalBytes: 65_536, scheduledDelayMillis: 5 });
  const logs = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: spans })] });
  const logger = logs.getLogger('only-logs');
  for (let i = 0; i < 1000; i++) logger.emit({ body: `line ${i} ${'x'.repeat(100)}` });
  expect(spans.stats().logRecordsDropped).toBeGreaterThan(0);
  expect(spans.stats().journalFull).toBe(true);
  logExporter.failing = false;
  await logs.shutdown();
  await spans.shutdown();
});
