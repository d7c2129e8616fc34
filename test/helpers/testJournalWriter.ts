// A JournalWriter as the journal tests make it: in `dir`, written by this process, 'process'
// durability, with the segment size and the number of recent ENDs kept in memory a test needs.
import { join } from 'node:path';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';

export function testJournalWriter(dir: string, maxSegmentBytes: number, recentEndsCapacity: number, recentEndsChars?: number): JournalWriter {
  return new JournalWriter({
    journalDir: join(dir, 'journal'),
    identity: currentWriterIdentity(),
    durability: 'process',
    maxSegmentBytes,
    maxJournalBytes: 1024 ** 3,
    groupCommitMillis: 10,
    heartbeatIntervalMs: 1000,
    recentEndsCapacity,
    recentEndsChars,
  });
}
