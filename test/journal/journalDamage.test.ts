// Damage to a real journal, thousands of seeded cases: flipped bytes, zeroed ranges,
// truncation. Reading never throws, every record whose bytes were not touched comes back,
// and the damage is counted. A failing case prints its seed, so it can be replayed.
import { journalWritePath } from '../../src/journal/segmentFile/openSegmentFile.js';
import { mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { beforeAll, describe, expect, test } from 'vitest';
import { ATTR_SPAN_STATE, recoverJournals } from '../../src/index.js';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { runCli } from '../helpers/cli.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { exitedProcessJournal } from '../helpers/exitedProcessJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { segmentNames } from '../helpers/journalFiles.js';

const tempDir = useTempDirs();

function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** A real segment: 150 spans through a real tracer, 30 of them left open. */
function realSegment(): { dir: string; file: string; bytes: Buffer } {
  const dir = tempDir();
  const writer = new JournalWriter({
    journalDir: dir,
    identity: currentWriterIdentity(),
    durability: 'process',
    maxSegmentBytes: 64 * 1024 * 1024,
    maxJournalBytes: 1024 ** 3,
    groupCommitMillis: 10,
    heartbeatIntervalMs: 1000,
  });
  const provider = new BasicTracerProvider({
    spanProcessors: [{ onStart: (span) => writer.appendStart(span), onEnd: (span) => writer.appendEnd(span), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  const tracer = provider.getTracer('damage');
  for (let i = 0; i < 150; i++) {
    const span = tracer.startSpan(`op-${i}`, { attributes: { i, text: 'é✓ unicode and "quotes"' } });
    span.addEvent('step', { i });
    if (i % 5 !== 0) span.end();
    if (i % 40 === 0) writer.appendHeartbeat();
  }
  writer.close({ removeIfDone: false });
  const file = join(writer.writerDir, segmentNames(writer.writerDir)[0]);
  return { dir: writer.writerDir, file, bytes: readFileSync(file) };
}

/**
 * A copy that is the original up to where a frame begins and then ends, or holds only zeros
 * (the unwritten tail of a preallocated segment): a journal whose records simply end there,
 * which no reader can tell from one that was never longer. (The timestamps in the records
 * change their lengths from run to run, so now and then a seed's cut or zeroed range lands
 * exactly there.)
 */
function endsAtFrameBoundary(copy: Buffer, original: Buffer, frames: { offset: number }[]): boolean {
  return frames.some(
    ({ offset }) => offset <= copy.length && original.subarray(0, offset).equals(copy.subarray(0, offset)) && copy.subarray(offset).every((byte) => byte === 0),
  );
}

interface Damage {
  bytes: Buffer;
  touched: (start: number, end: number) => boolean;
}

function damage(original: Buffer, next: () => number): Damage {
  const bytes = Buffer.from(original);
  const hit: [number, number][] = [];
  const kind = Math.floor(next() * 4);
  if (kind === 0 || kind === 3) {
    const flips = 1 + Math.floor(next() * 8);
    for (let i = 0; i < flips; i++) {
      const at = Math.floor(next() * bytes.length);
      bytes[at] ^= 1 + Math.floor(next() * 255);
      hit.push([at, at + 1]);
    }
  }
  if (kind === 1) {
    const at = Math.floor(next() * bytes.length);
    const length = 1 + Math.floor(next() * 300);
    bytes.fill(0, at, at + length);
    hit.push([at, at + length]);
  }
  let cut = bytes.length;
  if (kind === 2 || kind === 3) cut = Math.floor(next() * bytes.length);
  return {
    bytes: bytes.subarray(0, cut),
    touched: (start, end) => end > cut || hit.some(([a, b]) => a < end && b > start),
  };
}

describe('journal damage', () => {
  const { bytes } = realSegment();
  const intact = readSegment(bytes).records;

  test('the undamaged segment holds every record', () => {
    expect(intact.filter((r) => r.type === 3)).toHaveLength(150);
    expect(intact.filter((r) => r.type === 4)).toHaveLength(120);
  });

  test('3,000 damaged copies: never throws, every untouched record recovered, damage counted', () => {
    for (let seed = 1; seed <= 3000; seed++) {
      const { bytes: damaged, touched } = damage(bytes, random(seed));
      const contents = readSegment(damaged);
      const found = new Set(contents.records.map((r) => `${r.offset}:${r.type}`));
      const missing = intact.filter((r) => !touched(r.offset, r.end) && !found.has(`${r.offset}:${r.type}`));
      expect(missing, `seed ${seed}`).toEqual([]);
      const changed = damaged.length !== bytes.length || !damaged.equals(bytes);
      if (changed && !endsAtFrameBoundary(damaged, bytes, intact)) expect(contents.damaged.length + contents.tornTailBytes, `seed ${seed}`).toBeGreaterThan(0);
    }
  });

});

// Through public behaviour only (a real process's journal, `otel-blackbox inspect` for the
// pristine records, recoverJournals() for the damaged copies), so it holds whatever the
// reader looks like inside: every span whose END survived is exported as ended, every
// span whose START survived and never ended (or whose END was hit) is exported, and none
// twice.
describe('recovery of damaged journals', () => {
  const ENDED_REQUESTS = 40;
  let writerName: string;
  let segmentName: string;
  let pristine: Buffer;
  let records: { offset: number; end: number; type: string; spanId: string }[];

  beforeAll(async () => {
    const journalDir = await exitedProcessJournal(tempDir(), ENDED_REQUESTS);
    [writerName] = readdirSync(journalDir);
    // The records are in the first segment; on the mmap path a second, written with
    // write(2), holds only its head (at exit the mapped one was cut to its records).
    const segments = segmentNames(join(journalDir, writerName!));
    expect(segments).toHaveLength(journalWritePath().path === 'mmap' ? 2 : 1);
    segmentName = segments[0]!;
    const path = join(journalDir, writerName!, segmentName);
    // On the mmap path the segment is preallocated and the crash leaves its zero tail; cutting
    // or zeroing that is no damage, so the copies damage the records only (the zero tail
    // has its own tests in readSegment.test.ts). A frame never ends in a zero byte.
    const file = readFileSync(path);
    let recordsEnd = file.length;
    while (recordsEnd > 0 && file[recordsEnd - 1] === 0) recordsEnd--;
    pristine = file.subarray(0, recordsEnd);
    const { stdout } = await runCli({}, 'inspect', path);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { offset: number; type: string; record: { s?: string } });
    records = lines.map((line, i) => ({
      offset: line.offset,
      end: lines[i + 1]?.offset ?? pristine.length,
      type: line.type,
      spanId: line.record.s ?? '',
    }));
  });

  test('the undamaged journal: every span once, the open ones as crash records', async () => {
    const starts = records.filter((r) => r.type === 'SPAN_START');
    const ends = records.filter((r) => r.type === 'SPAN_END');
    // Per request 2 spans; then 4 more, one of them ended.
    expect(starts).toHaveLength(ENDED_REQUESTS * 2 + 4);
    expect(ends).toHaveLength(ENDED_REQUESTS * 2 + 1);
    const { exporter } = await recoverCopy(pristine);
    expect(exporter.spans).toHaveLength(starts.length);
    expect(exporter.spans.filter((span) => span.attributes[ATTR_SPAN_STATE] === 'crashed')).toHaveLength(3);
  });

  test('200 damaged copies: every span with an intact record is recovered, once, and the damage is counted', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { bytes: damaged, touched } = damage(pristine, random(seed * 7919));
      const label = `seed ${seed * 7919}`;
      const { exporter, report } = await recoverCopy(damaged);
      const intact = records.filter((r) => !touched(r.offset, r.end));
      const intactEnds = new Set(intact.filter((r) => r.type === 'SPAN_END').map((r) => r.spanId));
      const intactStarts = new Set(intact.filter((r) => r.type === 'SPAN_START').map((r) => r.spanId));

      const exported = exporter.spans.map((span) => span.spanContext().spanId);
      expect(exported.length, `${label}: a span exported twice`).toBe(new Set(exported).size);
      const stateOf = new Map(exporter.spans.map((span) => [span.spanContext().spanId, span.attributes[ATTR_SPAN_STATE] ?? 'ended']));
      for (const spanId of intactEnds) expect(stateOf.get(spanId), `${label}: span ${spanId} (END intact)`).toBe('ended');
      for (const spanId of intactStarts) expect(stateOf.has(spanId), `${label}: span ${spanId} (START intact)`).toBe(true);
      const known = new Set(records.map((r) => r.spanId));
      for (const spanId of exported) expect(known.has(spanId), `${label}: span ${spanId} was never journaled`).toBe(true);

      if (!damaged.equals(pristine) && !endsAtFrameBoundary(damaged, pristine, records)) expect(report.corruptBytes + report.tornBytes, label).toBeGreaterThan(0);
    }
  });

  /** The bytes as the only segment of a dead writer's journal, recovered into a collecting exporter. */
  async function recoverCopy(bytes: Buffer) {
    const journalDir = join(tempDir(), 'journal');
    const writerDir = join(journalDir, writerName);
    mkdirSync(writerDir, { recursive: true });
    const path = join(writerDir, segmentName);
    writeFileSync(path, bytes);
    // With its header damaged, the writer can only be judged dead by silence: make it old.
    const longAgo = new Date('2020-01-01T00:00:00Z');
    utimesSync(path, longAgo, longAgo);
    utimesSync(writerDir, longAgo, longAgo);
    const exporter = new CollectingExporter();
    // Its writer exported to an unreachable database: its headers name that destination.
    const report = await recoverJournals({ journalDir, exporter, staleAfterMillis: 60_000, recoverAnyDestination: true });
    expect(report).toMatchObject({ journals: 1, failures: [] });
    return { exporter, report };
  }
});
