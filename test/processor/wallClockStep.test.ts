// Deadlines are kept on the monotonic clock. shutdown() and forceFlush() took their
// deadline from Date.now(): a wall clock stepped back while they waited (NTP, a VM
// resumed, an operator) made them wait as much longer, an hour for an hour's step, with
// the process kept alive by their timer.
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { JournalSpanProcessor } from '../../src/index.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

/** An exporter whose forceFlush() and shutdown() never settle. */
const stuckExporter = {
  export: (_spans: ReadableSpan[], done: (result: ExportResult) => void) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: () => new Promise<void>(() => {}),
  shutdown: () => new Promise<void>(() => {}),
};

async function withClockSteppedBack<T>(work: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  const pending = work();
  Date.now = () => realNow() - 3_600_000;
  try {
    return await pending;
  } finally {
    Date.now = realNow;
  }
}

test.each(['forceFlush', 'shutdown'] as const)('%s() settles by its deadline though the wall clock is stepped back an hour meanwhile', async (call) => {
  const processor = new JournalSpanProcessor({ exporter: stuckExporter, journalDir: tempDir(), recover: false, flushTimeoutMillis: 200 });
  await withClockSteppedBack(() => processor[call]());
  if (call === 'forceFlush') await withClockSteppedBack(() => processor.shutdown());
  expect(processor.stats().journalWritePath).toBe('none');
}, 15_000);
