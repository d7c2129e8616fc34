// Runs a suite on both journal write paths: memory-mapped segments and write(2). The
// environment switch reaches child processes too. Where the native addon is not built
// (no C toolchain), the 'mmap' runs go through write(2), and this says so once.
import { afterEach, beforeEach, vi } from 'vitest';
import { JOURNAL_IO_ENV, journalWritePath } from '../../src/journal/segmentFile/openSegmentFile.js';
import type { SegmentFileKind } from '../../src/journal/segmentFile/openSegmentFile.js';

export const JOURNAL_IO_PATHS: SegmentFileKind[] = ['mmap', 'write'];

let saidSo = false;

/** Sets OTEL_BLACKBOX_JOURNAL_IO for each test of the calling suite. */
export function useJournalIo(path: SegmentFileKind): void {
  beforeEach(() => {
    vi.stubEnv(JOURNAL_IO_ENV, path);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });
}

/** The path a writer really takes when `path` is asked for on this machine. */
export function expectedJournalIo(path: SegmentFileKind): SegmentFileKind {
  if (path === 'write') return 'write';
  const actual = journalWritePath();
  if (actual.path === 'write' && !saidSo) {
    saidSo = true;
    console.warn(`otel-blackbox tests: the 'mmap' runs use write(2): ${actual.reason}`);
  }
  return actual.path;
}
