// Spans the application starts or ends while the processor shuts down, and after. A
// shutdown drains for up to flushTimeoutMillis (a slow database, a SIGTERM while requests
// finish): the journal is open all that time, and a span started then is journaled like
// any other, so a kill, or the end of the shutdown with the span still open, leaves its
// crash record (before: not journaled, and lost). A span that ends after shutdown is not
// recorded: one that started before has its crash record, one that started after is
// counted among the dropped spans and said once (before: no trace of it anywhere).
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { expect, test } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

test('a span started while shutdown drains is journaled: left open, it gets its crash record', async () => {
  const journalDir = join(tempDir(), 'journal');
  const down = new CollectingExporter();
  down.failing = true;
  const processor = new JournalSpanProcessor({ exporter: down, journalDir, recover: false, flushTimeoutMillis: 500 });
  const tracer = providerWith(processor, 'around-shutdown').getTracer('t');
  tracer.startSpan('ended before shutdown').end();
  const stopping = processor.shutdown();
  const duringShutdown = tracer.startSpan('started while shutdown drains');
  await stopping;

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ spansEnded: 1, spansCrashed: 1 });
  const crashed = exporter.spans.find((span) => span.name === 'started while shutdown drains');
  expect(crashed?.spanContext().spanId).toBe(duringShutdown.spanContext().spanId);
  expect(crashed?.status.message).toMatch(/still open when the span processor shut down/);
});

test('a span started after shutdown is counted as dropped when it ends, and said once', async () => {
  const lines = collectDiag();
  try {
    const processor = new JournalSpanProcessor({ exporter: new CollectingExporter(), journalDir: join(tempDir(), 'journal'), recover: false });
    const tracer = providerWith(processor, 'after-shutdown').getTracer('t');
    const startedBefore = tracer.startSpan('started before shutdown');
    await processor.shutdown();
    // Its START is in the journal: recovery writes its crash record. Not a drop.
    startedBefore.end();
    tracer.startSpan('after shutdown 1').end();
    tracer.startSpan('after shutdown 2').end();
    expect(processor.stats()).toMatchObject({ spansDropped: 2, spansDroppedByReason: { 'span processor shut down': 2 } });
    expect(lines.filter((line) => line.includes('after JournalSpanProcessor shut down'))).toHaveLength(1);
  } finally {
    diag.disable();
  }
});
