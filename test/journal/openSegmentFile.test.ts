// Which path a new segment takes, and what each leaves in the file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { SEGMENT_MAGIC } from '../../src/journal/frame.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { JOURNAL_IO_ENV, openSegmentFile } from '../../src/journal/segmentFile/openSegmentFile.js';
import { collectDiag } from '../helpers/diagLines.js';
import { expectedJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
afterEach(() => {
  vi.unstubAllEnvs();
  diag.disable();
});

describe('openSegmentFile', () => {
  test(`${JOURNAL_IO_ENV}=write selects write(2); unset, the mapped path where the addon loads`, () => {
    vi.stubEnv(JOURNAL_IO_ENV, 'write');
    const written = openSegmentFile(join(tempDir(), 'a.seg'), { preallocateBytes: 1 << 20 });
    expect(written.kind).toBe('write');
    expect(written.capacity).toBe(Infinity);
    written.close();
    vi.stubEnv(JOURNAL_IO_ENV, '');
    const mapped = openSegmentFile(join(tempDir(), 'b.seg'), { preallocateBytes: 1 << 20 });
    expect(mapped.kind).toBe(expectedJournalIo('mmap'));
    mapped.close();
  });

  test("case and surrounding spaces aside, as OTEL_BLACKBOX_DURABILITY is read ('WRITE' was refused, and segments mapped)", () => {
    const warnings = collectDiag();
    vi.stubEnv(JOURNAL_IO_ENV, ' WRITE ');
    const written = openSegmentFile(join(tempDir(), 'a.seg'), { preallocateBytes: 4096 });
    expect(written.kind).toBe('write');
    written.close();
    expect(warnings).toEqual([]);
  });

  test('a bad value warns once through diag and maps as if unset', () => {
    const warnings = collectDiag();
    vi.stubEnv(JOURNAL_IO_ENV, 'mmap-please');
    for (const name of ['a.seg', 'b.seg']) openSegmentFile(join(tempDir(), name), { preallocateBytes: 4096 }).close();
    expect(warnings.filter((line) => line.includes(JOURNAL_IO_ENV))).toEqual([
      `otel-blackbox: ignoring ${JOURNAL_IO_ENV}="mmap-please": expected one of 'auto', 'mmap', 'write'.`,
    ]);
  });

  test('a mapped segment holds its capacity on disk while open and is cut to its records at close', async () => {
    const path = join(tempDir(), 'c.seg');
    const segment = openSegmentFile(path, { preallocateBytes: 100_000 });
    expect(segment.append(Buffer.from('0123456789'))).toBe('written');
    if (segment.kind === 'mmap') {
      expect(statSync(path).size).toBe(segment.capacity);
      expect(segment.append(Buffer.alloc(segment.capacity))).toBe('no-room');
    }
    segment.close();
    await expect.poll(() => statSync(path).size).toBe(10);
    expect(readFileSync(path).toString()).toBe('0123456789');
  });

  test('close: cut to its records and closed, on both paths', async () => {
    for (const io of ['mmap', 'write'] as const) {
      vi.stubEnv(JOURNAL_IO_ENV, io);
      const path = join(tempDir(), `${io}.seg`);
      const segment = openSegmentFile(path, { preallocateBytes: 100_000 });
      expect(segment.kind).toBe(expectedJournalIo(io));
      expect(segment.append(SEGMENT_MAGIC)).toBe('written');
      expect(segment.appendFrame(RecordType.Heartbeat, '{"ms":1}')).toBe('written');
      segment.close();
      expect(segment.closed).toBe(true);
      await expect.poll(() => statSync(path).size).toBe(segment.bytes);
      expect(readSegment(readFileSync(path)).records.map((record) => record.type)).toEqual([RecordType.Heartbeat]);
    }
  });

  test("'host' group commit: background syncs of what was written since the last one; close waits for the one in flight", async () => {
    const path = join(tempDir(), 'e.seg');
    const segment = openSegmentFile(path, { preallocateBytes: 1 << 20 });
    const sync = () => new Promise<NodeJS.ErrnoException | null>((resolve) => segment.syncDataInBackground(resolve));
    const records: string[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) {
        const json = JSON.stringify({ round, i, pad: 'p'.repeat(100) });
        records.push(json);
        expect(segment.appendFrame(RecordType.Heartbeat, json)).toBe('written');
      }
      expect(await sync()).toBeNull();
    }
    const inFlight = sync();
    segment.close();
    expect(await inFlight).toBeNull();
    await expect.poll(() => statSync(path).size).toBe(segment.bytes);
    const read = readSegment(Buffer.concat([SEGMENT_MAGIC, readFileSync(path)]));
    expect(read.damaged).toEqual([]);
    expect(read.records.map((record) => JSON.stringify(record.payload))).toEqual(records);
  });

  test('the pages a mapped segment has passed are unmapped as it fills (not counted in RSS), and every record is in the file', async (context) => {
    const path = join(tempDir(), 'f.seg');
    const segment = openSegmentFile(path, { preallocateBytes: 8 << 20 });
    if (segment.kind !== 'mmap') context.skip();
    const records: string[] = [];
    expect(segment.append(SEGMENT_MAGIC)).toBe('written');
    for (let i = 0; segment.bytes < 6 << 20; i++) {
      const json = JSON.stringify({ i, pad: 'p'.repeat(400) });
      records.push(json);
      expect(segment.appendFrame(RecordType.Heartbeat, json)).toBe('written');
      if (i % 1000 === 0) await new Promise((resolve) => setImmediate(resolve)); // the thread-pool jobs run
    }
    // The kernel's own count of this file's pages mapped into the process (/proc/self/smaps).
    const mappedKiB = () => {
      let inSegment = false;
      let kib = 0;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
        if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inSegment = line.endsWith(path);
        else if (inSegment && line.startsWith('Rss:')) kib += Number(line.split(/\s+/)[1]);
      }
      return kib;
    };
    // 6 MiB written: at most the last step behind the writer and the window ahead of it stay mapped.
    await expect.poll(mappedKiB, { timeout: 20_000 }).toBeLessThanOrEqual(3 * 1024);
    segment.close();
    await expect.poll(() => statSync(path).size, { timeout: 20_000 }).toBe(segment.bytes);
    const read = readSegment(readFileSync(path));
    expect(read.damaged).toEqual([]);
    expect(read.records.map((record) => JSON.stringify(record.payload))).toEqual(records);
  });

  test('on a filesystem where preallocated blocks are not promised (ramfs), segments use write(2)', (context) => {
    const dir = join(tempDir(), 'ramfs');
    mkdirSync(dir);
    try {
      execFileSync('mount', ['-t', 'ramfs', 'ramfs', dir], { stdio: 'pipe' });
    } catch {
      context.skip();
    }
    try {
      const segment = openSegmentFile(join(dir, 'd.seg'), { preallocateBytes: 1 << 20 });
      expect(segment.kind).toBe('write');
      segment.append(Buffer.from('x'));
      segment.close();
    } finally {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    }
  });
});
