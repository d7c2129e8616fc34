// The dead-letter file behind exporters other than ours: whole JSON lines however large and
// however many are written at once, the owner's alone, a directory made when missing.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_FILE_NAME, DeadLetterFile } from '../../src/export/DeadLetterFile.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { providerWith } from '../helpers/tracing.js';

const tempDir = useTempDirs();

describe('DeadLetterFile', () => {
  it('writes whole lines when records of megabytes are refused at once (two batches in flight, recovery beside them)', async () => {
    const memory = new InMemorySpanExporter();
    const provider = providerWith(new SimpleSpanProcessor({ exporter: memory }), 'dead-letters');
    for (const name of ['a', 'b', 'c']) provider.getTracer('t').startSpan(name, { attributes: { big: name.repeat(1_500_000) } }).end();
    const spans = memory.getFinishedSpans();
    const journalDir = join(tempDir(), 'not-made-yet');
    const error = Object.assign(new Error('Content Too Large'), { code: 413, data: 'limit 1 MiB' });
    // Two instances, as the export loop and recovery hold, on one path.
    const files = [new DeadLetterFile(journalDir), new DeadLetterFile(journalDir)];
    await Promise.all(spans.map((span, i) => files[i % 2]!.span(span, 'HTTP 413 Content Too Large', error)));
    const path = join(journalDir, DEAD_LETTER_FILE_NAME);
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.name).sort()).toEqual(['a', 'b', 'c']);
    expect(lines[0]).toMatchObject({ kind: 'span', reason: 'HTTP 413 Content Too Large', error: 'Content Too Large: limit 1 MiB' });
    expect(lines.every((line) => line.record.a.big.length === 1_500_000)).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(journalDir).mode & 0o777).toBe(0o700);
    expect(files[0]!.written + files[1]!.written).toBe(3);
    await provider.shutdown();
  });

  it('starts a line of its own after a torn one (a write that failed part-way), so the record is readable', async () => {
    const memory = new InMemorySpanExporter();
    const provider = providerWith(new SimpleSpanProcessor({ exporter: memory }), 'dead-letters');
    provider.getTracer('t').startSpan('refused').end();
    const journalDir = tempDir();
    const path = join(journalDir, DEAD_LETTER_FILE_NAME);
    writeFileSync(path, '{"at":"2026-12-04T00:00:00.000Z","kind":"span","reas', { mode: 0o600 });
    await new DeadLetterFile(journalDir).span(memory.getFinishedSpans()[0]!, 'HTTP 400 Bad Request', new Error('Bad Request'));
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe('{"at":"2026-12-04T00:00:00.000Z","kind":"span","reas');
    expect(JSON.parse(lines[1]!)).toMatchObject({ kind: 'span', name: 'refused' });
    expect(lines[2]).toBe('');
    await provider.shutdown();
  });
});
