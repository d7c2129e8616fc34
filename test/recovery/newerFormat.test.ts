// A journal a newer otel-blackbox wrote (another segment magic, a higher format version in
// its header) is left alone by this one, counted and said once: read as this format, its
// records were damage, and the journal was deleted with the spans in it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { frameChecksum } from '../../src/journal/frame.js';
import { segmentPath } from '../../src/journal/journalPaths.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

function withHeaderVersion(path: string, version: number): void {
  const bytes = readFileSync(path);
  const header = readSegment(bytes).records.find((record) => record.type === RecordType.SegmentHeader)!;
  const payload = bytes.subarray(header.offset + 9, header.end);
  const text = payload.toString('latin1').replace('"v":1', `"v":${version}`);
  payload.write(text, 'latin1');
  bytes.writeUInt32LE(frameChecksum(bytes, header.offset + 8, header.end - header.offset - 9), header.offset + 4);
  writeFileSync(path, bytes);
}

test.each([
  ['another segment magic', (path: string) => writeFileSync(path, Buffer.concat([Buffer.from('OTELBBJ2', 'latin1'), readFileSync(path).subarray(8)]))],
  ['a higher format version in its header', (path: string) => withHeaderVersion(path, 2)],
])('a journal with %s is left alone, counted and said once', async (_, rewrite) => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 30);
  rewrite(segmentPath(dead.writerDir, 1));
  const lines = collectDiag();
  try {
    const exporter = new CollectingExporter();
    const first = await recoverJournals({ journalDir, exporter });
    const second = await recoverJournals({ journalDir, exporter });
    expect(first).toMatchObject({ journals: 0, newerJournals: 1, corruptBytes: 0, failures: [] });
    expect(second).toMatchObject({ journals: 0, newerJournals: 1 });
    expect(exporter.spans).toEqual([]);
    expect(existsSync(segmentPath(dead.writerDir, 1))).toBe(true);
    expect(lines.filter((line) => line.includes('a newer otel-blackbox wrote it'))).toHaveLength(1);
  } finally {
    diag.disable();
  }
});
