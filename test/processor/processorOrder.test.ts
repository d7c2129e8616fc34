// The journal takes a span's END in onEnd, before the span processors registered after it
// run. One after it that redacts by writing into the span in its own onEnd changes the
// application's object only: a span read back from the journal is exported unredacted (an
// attack: 2,800 of 3,000 spans through a 1.5 s outage). That cannot be journaled, so it is
// said; redacting in onEnding, or before the journal, is exported redacted either way.
import { diag } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider as BasicTracerProvider, type ReadableSpan, type Span, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
afterEach(() => diag.disable());

/** Replaces the `secret` attribute, in the hook it is told to use. */
function redactor(hook: 'onEnd' | 'onEnding'): SpanProcessor {
  const redact = (span: ReadableSpan | Span) => {
    const attributes = span.attributes as Record<string, unknown>;
    if ('secret' in attributes) attributes.secret = 'REDACTED';
  };
  return {
    onStart: () => {},
    ...(hook === 'onEnd' ? { onEnd: redact } : { onEnd: () => {}, onEnding: redact }),
    forceFlush: async () => {},
    shutdown: async () => {},
  } as SpanProcessor;
}

async function run(order: 'journal first' | 'redactor first', hook: 'onEnd' | 'onEnding') {
  const exporter = new CollectingExporter();
  // Down at first: the spans wait in the journal and are read back from it.
  exporter.failing = true;
  const journal = new JournalSpanProcessor({ exporter, journalDir: join(tempDir(), 'journal'), recover: false, scheduledDelayMillis: 5 });
  const processors = order === 'journal first' ? [journal, redactor(hook)] : [redactor(hook), journal];
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'order' }), spanProcessors: processors });
  const lines = collectDiag();
  const tracer = provider.getTracer('t');
  for (let i = 0; i < 20; i++) tracer.startSpan(`login ${i}`, { attributes: { secret: 'hunter2', user: 'ann' } }).end();
  // Past the window of just-written ENDs the journal keeps as the application's objects.
  for (let i = 0; i < 1100; i++) tracer.startSpan(`filler ${i}`).end();
  await new Promise((resolve) => setTimeout(resolve, 50));
  exporter.failing = false;
  await provider.forceFlush();
  await provider.shutdown();
  return { secrets: exporter.spans.filter((span) => span.name.startsWith('login')).map((span) => span.attributes.secret), said: lines.filter((line) => line.includes('was changed after JournalSpanProcessor')) };
}

test('a processor after the journal that redacts in onEnd: spans read back are not redacted, and that is said once', async () => {
  const { secrets, said } = await run('journal first', 'onEnd');
  expect(secrets).toEqual(Array(20).fill('hunter2'));
  expect(said).toHaveLength(1);
  expect(said[0]).toMatch(/Register processors that change spans before JournalSpanProcessor, or make the change in onEnding/);
});

test.each([
  ['redactor first', 'onEnd'],
  ['journal first', 'onEnding'],
] as const)('redacting before the journal (%s, in %s): every span is exported redacted, nothing said', async (order, hook) => {
  const { secrets, said } = await run(order, hook);
  expect(secrets).toEqual(Array(20).fill('REDACTED'));
  expect(said).toEqual([]);
});
