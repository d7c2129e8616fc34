// A dead journal that holds log records, recovered with a span exporter that cannot store
// them and no logExporter (recoverJournals called with OTLP, say): the spans are recovered,
// and the log records are dropped loudly, with their count, never silently.
import { diag } from '@opentelemetry/api';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
afterEach(() => diag.disable());

test('log records of a recovered journal with nowhere to go: spans recovered, the records dropped with a diag error that counts them', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 40, { logs: 12 });
  const lines = collectDiag();
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report.spansEnded + report.spansCrashed).toBe(40);
  expect(exporter.spans).toHaveLength(40);
  expect(report.logRecords).toBe(dead.logs);
  const dropped = lines.filter((line) => line.includes('log records from a recovered journal are dropped'));
  expect(dropped.length).toBeGreaterThan(0);
  expect(dropped.reduce((sum, line) => sum + Number(/otel-blackbox: (\d+) log records/.exec(line)?.[1]), 0)).toBe(12);
  expect(existsSync(dead.writerDir)).toBe(false);
});
