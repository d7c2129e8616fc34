// A dead journal with log records, recovered through a span exporter that cannot store them
// and a logExporter (OTLP for both, say). A batch counts as recovered once both accepted
// their part; when the log exporter failed, the retry sent the batch's spans again, which
// the span exporter had already accepted: every span of it arrived twice. The export loop
// already sent only the part not yet accepted (DeliveredParts); recovery now does too.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { CollectingLogExporter } from '../helpers/CollectingLogExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

test.each(['logExporter', 'span exporter'] as const)('the %s failing once: each part of a recovered batch arrives exactly once', async (failingOne) => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 40, { logs: 12 });
  const exporter = new CollectingExporter();
  const logExporter = new CollectingLogExporter();
  // Refuses its first call, then accepts.
  const failing = failingOne === 'logExporter' ? logExporter : exporter;
  failing.failing = true;
  const exportOnce = failing.export.bind(failing) as (items: never[], done: (result: unknown) => void) => void;
  failing.export = ((items: never[], done: (result: unknown) => void) =>
    exportOnce(items, (result) => {
      failing.failing = false;
      done(result);
    })) as typeof failing.export;

  const report = await recoverJournals({ journalDir, exporter, logExporter });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, logRecords: dead.logs, failures: [] });
  expect(new Set(exporter.spanIds()).size).toBe(40);
  expect(exporter.spans).toHaveLength(40);
  expect(logExporter.records).toHaveLength(dead.logs);
  expect(failing.calls).toBe(2);
  expect(existsSync(dead.writerDir)).toBe(false);
});
