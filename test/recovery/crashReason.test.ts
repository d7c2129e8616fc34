// The reason a crash record gives, read from a real journal. A PROCESS_EXIT record with an
// error is written when an uncaught exception is seen (uncaughtExceptionMonitor), but an
// application with its own 'uncaughtException' handler lives on: a span it started later
// and lost to a SIGKILL was blamed on that old, handled error. A heartbeat after the record
// says the process went on; an exit record right after the error (the exit it caused)
// keeps the error.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { JournalWriter } from '../../src/journal/JournalWriter.js';
import type { ProcessExitRecord } from '../../src/journal/recordTypes.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { crashReason } from '../../src/recovery/crashRecords.js';
import { readJournalFacts } from '../../src/recovery/readWriterJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const error = { name: 'Error', message: 'handled long ago', stack: 'Error: handled long ago\n    at somewhere' };

type Step = { exit: Omit<ProcessExitRecord, 'ms'> } | 'heartbeat';

/** Writes the steps into a real journal, a few milliseconds apart, and reads its reason back. */
async function reasonAfter(steps: Step[], identity = currentWriterIdentity()): Promise<{ reason: string; lastHeartbeatMs: number | undefined }> {
  const journalDir = join(tempDir(), 'journal');
  const writer = new JournalWriter({
    journalDir,
    identity,
    durability: 'process',
    maxSegmentBytes: 1024 * 1024,
    maxJournalBytes: 64 * 1024 * 1024,
    groupCommitMillis: 5,
    heartbeatIntervalMs: 1000,
  });
  for (const step of steps) {
    await sleep(3);
    if (step === 'heartbeat') writer.appendHeartbeat();
    else writer.appendProcessExit({ ms: Date.now(), ...step.exit });
  }
  writer.close({ removeIfDone: false });
  const facts = await readJournalFacts(join(journalDir, readdirSync(journalDir)[0]!));
  return { reason: crashReason(facts), lastHeartbeatMs: facts.lastHeartbeatMs };
}

test('an uncaught error the process died of is the reason', async () => {
  expect((await reasonAfter(['heartbeat', { exit: { error } }])).reason).toBe(`uncaught ${error.stack}`);
});

test('an uncaught error the process lived on after (heartbeats later) is not', async () => {
  const { reason, lastHeartbeatMs } = await reasonAfter(['heartbeat', { exit: { error } }, 'heartbeat']);
  expect(reason).toBe(`process vanished; last heartbeat at ${new Date(lastHeartbeatMs!).toISOString()}`);
});

test('the exit an uncaught error caused keeps the error, merged into one', async () => {
  expect((await reasonAfter([{ exit: { error } }, { exit: { code: 7 } }])).reason).toBe(`uncaught ${error.stack}`);
});

test('an exit long after a handled error is said as the exit, without the old error', async () => {
  expect((await reasonAfter([{ exit: { error } }, 'heartbeat', { exit: { code: 7 } }])).reason).toBe('process exited with code 7 while the span was open');
  expect((await reasonAfter([{ exit: { error } }, 'heartbeat', { exit: { shutdown: true } }])).reason).toBe(
    'the span was still open when the span processor shut down; an end after that was not recorded',
  );
});

test("a worker thread's journal says the worker thread exited or vanished, not the process, which may live on", async () => {
  // The identity a worker thread's writer has: its thread id, and its OS thread named where /proc is.
  const worker = { ...currentWriterIdentity(), threadId: 3, osThread: { tid: 4242, startTicks: '123' } };
  expect((await reasonAfter(['heartbeat', { exit: { code: 0 } }], worker)).reason).toBe('worker thread exited with code 0 while the span was open');
  const { reason, lastHeartbeatMs } = await reasonAfter(['heartbeat'], worker);
  expect(reason).toBe(`worker thread vanished; last heartbeat at ${new Date(lastHeartbeatMs!).toISOString()}`);
});

test('without /proc, the thread id alone says it was a worker thread', async () => {
  const worker = { ...currentWriterIdentity(), threadId: 3, osThread: undefined };
  expect((await reasonAfter(['heartbeat', { exit: { code: 1 } }], worker)).reason).toBe('worker thread exited with code 1 while the span was open');
});

test('an exit record written otherwise (damage, another writer, an attack) gives a reason of bounded size: 10 MB of code or message is cut', async () => {
  // Each crash record repeats the reason three times: a 10 MB code in a journal of 200 open
  // spans took the recovering application's heap past 4 GB (an attack).
  const huge = 'x'.repeat(10 * 1024 * 1024);
  const byCode = (await reasonAfter([{ exit: { code: huge as unknown as number } }])).reason;
  expect(byCode.length).toBeLessThan(300);
  expect(byCode).toMatch(/^process exited with code x+… \(10485\d+ more characters\) while the span was open$/);
  const byError = (await reasonAfter([{ exit: { error: { name: huge, message: huge, stack: huge } } }])).reason;
  expect(byError.length).toBeLessThan(25 * 1024);
  expect(byError).toMatch(/more characters\)/);
});

test("an error the writer cut itself reads back as it wrote it, not cut again", async () => {
  const message = `${'m'.repeat(4096)}… (904 more characters) (unhandled rejection)`;
  const cutByWriter = { name: 'Error', message, stack: `Error: ${'s'.repeat(16 * 1024)}… (77 more characters)` };
  const { reason } = await reasonAfter([{ exit: { error: cutByWriter } }]);
  expect(reason).toBe(`uncaught Error: ${message}\n${cutByWriter.stack}`);
});

test('an exit record whose parts cannot be made text by String() ({"toString":1}), or whose error is a string, still gives a reason', async () => {
  // String() threw "Cannot convert object to primitive value": the journal failed at every recovery (an attack).
  const trap = { toString: 1 } as unknown as number;
  expect((await reasonAfter([{ exit: { code: trap } }])).reason).toBe('process exited with code {"toString":1} while the span was open');
  const byError = (await reasonAfter([{ exit: { error: { name: trap, message: trap } as never } }])).reason;
  expect(byError).toBe('uncaught {"toString":1}: {"toString":1}');
  expect((await reasonAfter([{ exit: { error: 'out of cheese' as never } }])).reason).toBe('uncaught out of cheese');
});
