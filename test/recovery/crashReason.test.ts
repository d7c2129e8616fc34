// The reason a crash record gives. A PROCESS_EXIT record with an error is written when an
// uncaught exception is seen (uncaughtExceptionMonitor), but an application with its own
// 'uncaughtException' handler lives on: a span it started later and lost to a SIGKILL was
// blamed on that old, handled error. A heartbeat after the record says the process went on.
import { expect, test } from 'vitest';
import { crashReason } from '../../src/recovery/crashRecords.js';
import type { JournalFacts } from '../../src/recovery/readWriterJournal.js';

function facts(overrides: Partial<JournalFacts>): JournalFacts {
  return {
    dir: '/journal/w',
    header: undefined,
    resources: new Map(),
    exit: undefined,
    lastHeartbeatMs: undefined,
    lastSignOfLifeMs: Date.UTC(2026, 0, 1),
    watermark: undefined,
    openStarts: new Map(),
    segments: [1],
    damagedBytes: 0,
    tornBytes: 0,
    ...overrides,
  };
}

const error = { name: 'Error', message: 'handled long ago', stack: 'Error: handled long ago\n    at somewhere' };

test('an uncaught error the process died of is the reason', () => {
  expect(crashReason(facts({ exit: { ms: 1000, error }, lastHeartbeatMs: 900 }))).toBe(`uncaught ${error.stack}`);
});

test('an uncaught error the process lived on after (heartbeats later) is not', () => {
  expect(crashReason(facts({ exit: { ms: 1000, error }, lastHeartbeatMs: 5000 }))).toBe('process vanished; last heartbeat at 1970-01-01T00:00:05.000Z');
});
