// A damaged LOG record is settled like a damaged END: counted lost (and said so), so
// forceFlush does not wait out its timeout and shutdown still removes the journal. Before,
// flush accounting counted only committed log records, and one flipped byte in a LOG frame
// held every later forceFlush until flushTimeoutMillis.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { InMemoryLogRecordExporter, LoggerProvider } from '@opentelemetry/sdk-logs';
import { afterEach, expect, test } from 'vitest';
import { JournalLogRecordProcessor, JournalSpanProcessor } from '../../src/index.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
afterEach(() => diag.disable());

function segmentFiles(journalDir: string): string[] {
  return readdirSync(journalDir).flatMap((writer) => readdirSync(join(journalDir, writer)).map((name) => join(journalDir, writer, name)));
}

test('a damaged LOG record does not make forceFlush wait out its timeout, and the journal is still removed at shutdown', async () => {
  const warnings: string[] = [];
  diag.setLogger({ error: () => {}, warn: (m: string) => void warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} });
  const journalDir = join(tempDir(), 'journal');
  const exporter = new CollectingExporter();
  exporter.failing = true;
  const logExporter = new InMemoryLogRecordExporter();
  const spans = new JournalSpanProcessor({ exporter, logExporter, journalDir, recover: false, maxSegmentBytes: 64 * 1024, flushTimeoutMillis: 20_000 });
  const logger = new LoggerProvider({ processors: [new JournalLogRecordProcessor({ spanProcessor: spans })] }).getLogger('damage');
  // Far more than the tail keeps in memory, so the early ones are read back from disk.
  for (let i = 0; i < 12_000; i++) logger.emit({ body: `line ${i}`, attributes: { i } });
  const [early] = segmentFiles(journalDir).sort().slice(2, 3);
  const bytes = readFileSync(early);
  const log = readSegment(bytes).records.find((record) => record.type === RecordType.LogRecord)!;
  bytes[log.end - 5] ^= 0x20;
  writeFileSync(early, bytes);
  exporter.failing = false;
  await spans.forceFlush();
  expect(warnings.filter((message) => message.includes('forceFlush timed out'))).toEqual([]);
  expect(logExporter.getFinishedLogRecords().length).toBe(12_000 - 1);
  await spans.shutdown();
  expect(readdirSync(journalDir)).toEqual([]);
}, 60_000);
