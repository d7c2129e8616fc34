// shutdown() while spans keep ending (a server still answering requests as it stops): the
// export loop drained until nothing was left, and a steady trickle never left nothing, so
// shutdown ran to flushTimeoutMillis and said a batch was abandoned at the deadline (a
// review: one span a millisecond held it 25 s). It now drains what was written when its
// drain began; what ends later stays in the journal, said, for a recovery to export.
import { diag } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { JournalSpanProcessor, recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

/** A database a few milliseconds away: each batch takes longer than a span does to end. */
class DistantExporter extends CollectingExporter {
  override export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    setTimeout(() => super.export(spans, resultCallback), 5);
  }
}
afterEach(() => diag.disable());

test('a span ending every millisecond does not hold shutdown to its deadline; those that end during it are recovered', async () => {
  const lines = collectDiag();
  const journalDir = join(tempDir(), 'journal');
  const exporter = new DistantExporter();
  const processor = new JournalSpanProcessor({ exporter, journalDir, flushTimeoutMillis: 15_000, scheduledDelayMillis: 5, maxExportBatchSize: 64, recover: false });
  const tracer = providerWith(processor, 'still-serving').getTracer('t');
  let ended = 0;
  let shutDown = false;
  const trickle = setInterval(() => {
    if (shutDown) return;
    tracer.startSpan(`request ${ended}`).end();
    ended += 1;
  }, 1);
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    await processor.shutdown();
    shutDown = true;
  } finally {
    clearInterval(trickle);
  }
  expect(lines.filter((line) => line.includes('stop deadline passed'))).toEqual([]);
  expect(processor.stats()).toMatchObject({ spansDropped: 0 });
  const exported = exporter.spans.length;
  const left = ended - exported;
  // What ended after the drain began and was not in its batches: kept, and said.
  if (left > 0) expect(lines.some((line) => line.includes(`${left} spans and log records written during shutdown`))).toBe(true);
  const recovered = new CollectingExporter();
  await recoverJournals({ journalDir, exporter: recovered, recoverAnyDestination: true });
  expect(new Set([...exporter.spanIds(), ...recovered.spanIds()]).size).toBe(ended);
  expect(exported + recovered.spans.length).toBe(ended);
}, 60_000);
