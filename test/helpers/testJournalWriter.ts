// A JournalWriter as the journal tests make it: in `dir`, written by this process, 'process'
// durability, 1 MiB segments, a journal cap out of reach, and whatever a test changes.
import { join } from 'node:path';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import type { JournalWriterOptions } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';

export function journalWriterIn(dir: string, overrides: Partial<JournalWriterOptions> = {}): JournalWriter {
  return new JournalWriter({
    journalDir: join(dir, 'journal'),
    identity: currentWriterIdentity(),
    durability: 'process',
    maxSegmentBytes: 1024 * 1024,
    maxJournalBytes: 1024 ** 3,
    groupCommitMillis: 5,
    heartbeatIntervalMs: 1000,
    ...overrides,
  });
}

/** With the segment size and the number of recent ENDs kept in memory a test needs. */
export function testJournalWriter(dir: string, maxSegmentBytes: number, recentEndsCapacity: number, recentEndsChars?: number): JournalWriter {
  return journalWriterIn(dir, { maxSegmentBytes, groupCommitMillis: 10, recentEndsCapacity, recentEndsChars });
}
