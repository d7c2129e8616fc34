// Damage to a real journal, thousands of seeded cases: flipped bytes, zeroed ranges,
// truncation. Reading never throws, every record whose bytes were not touched comes back,
// and the damage is counted. A failing case prints its seed, so it can be replayed.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { readWriterJournal } from '../../src/recovery/readWriterJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

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
  const file = join(writer.writerDir, readdirSync(writer.writerDir)[0]);
  return { dir: writer.writerDir, file, bytes: readFileSync(file) };
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
  const { file, bytes } = realSegment();
  const segmentName = basename(file);
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
      if (changed) expect(contents.damaged.length + contents.tornTailBytes, `seed ${seed}`).toBeGreaterThan(0);
    }
  });

  test('recovery reads damaged journals without throwing and counts what it skipped', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { bytes: damaged } = damage(bytes, random(seed * 7919));
      const copy = join(tempDir(), 'writer');
      mkdirSync(copy);
      writeFileSync(join(copy, segmentName), damaged);
      const journal = await readWriterJournal(copy);
      expect(journal.openStarts.size + journal.uncommittedEnds.size, `seed ${seed * 7919}`).toBeLessThanOrEqual(150);
      if (!damaged.equals(bytes)) expect(journal.damagedBytes + journal.tornBytes, `seed ${seed * 7919}`).toBeGreaterThan(0);
    }
  });
});
