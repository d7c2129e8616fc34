// A claimer on another host is judged alive by its claim directory's ctime. While a
// recovery runs, its claim must stay fresh even when nothing commits (a database outage),
// or another host's process takes the journal over mid-recovery; and the directory's mtime
// must not move, since a journal given back is judged by it.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CLAIM_REFRESH_MAX_MILLIS, claimRefreshMillis, keepClaimFresh } from '../../src/recovery/claimJournal.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

/** A database that refuses every batch. */
class Refusing implements SpanExporter {
  calls = 0;
  export(_spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.calls += 1;
    setImmediate(() => resultCallback({ code: ExportResultCode.FAILED, error: new Error('database down (test)') }));
  }
  async shutdown(): Promise<void> {}
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('keepClaimFresh moves the directory ctime, not its mtime, until stopped', async () => {
  const dir = tempDir();
  const before = statSync(dir);
  const stop = keepClaimFresh(dir, 200);
  await sleep(400);
  const during = statSync(dir);
  expect(during.ctimeMs).toBeGreaterThan(before.ctimeMs);
  expect(during.mtimeMs).toBe(before.mtimeMs);
  expect(during.mode).toBe(before.mode);
  stop();
  // A refresh started just before stop() (a stat, then a chmod, on the thread pool) may
  // still land: wait until the ctime holds across two reads, then it must stay so.
  let stopped = statSync(dir).ctimeMs;
  await expect
    .poll(async () => {
      const earlier = stopped;
      await sleep(50);
      stopped = statSync(dir).ctimeMs;
      return stopped === earlier;
    })
    .toBe(true);
  await sleep(300);
  expect(statSync(dir).ctimeMs).toBe(stopped);
});

test('a recovery whose exports all fail keeps its claim fresh for as long as it retries', async () => {
  const journalDir = join(tempDir(), 'journal');
  writeDeadJournal(journalDir, 50);
  const exporter = new Refusing();
  const controller = new AbortController();
  const staleAfterMillis = 1000;
  const running = recoverJournals({ journalDir, exporter, staleAfterMillis, maxAttempts: Number.POSITIVE_INFINITY, signal: controller.signal });
  await expect.poll(() => readdirSync(journalDir).find((name) => name.includes('.recovering-')), { timeout: 20_000 }).toBeDefined();
  const claimed = join(journalDir, readdirSync(journalDir).find((name) => name.includes('.recovering-'))!);
  // Two and a half times staleAfterMillis with nothing committed: the claim is never older than stale.
  const deadline = Date.now() + 2.5 * staleAfterMillis;
  const ages: number[] = [];
  while (Date.now() < deadline) {
    await sleep(50);
    ages.push(Date.now() - statSync(claimed).ctimeMs);
  }
  expect(exporter.calls).toBeGreaterThan(1);
  // A stall of this process holds up the refresh and the sampling alike: the sample taken
  // first after it may find the claim old, and the refresh lands right after. A claim left
  // to go stale is found so by sample after sample.
  expect(ages.filter((age) => age >= staleAfterMillis).length, `ages ${ages.join(', ')}`).toBeLessThanOrEqual(1);
  controller.abort();
  const report = await running;
  expect(report.failures).toHaveLength(1);
});

test('a claim is refreshed often enough for a judge configured with a shorter staleAfterMillis than its claimer', () => {
  // The default 5 minutes: every 5 s, not every 75 s, so a judge with 1 minute (or 10 s) sees it fresh.
  expect(claimRefreshMillis(300_000)).toBe(CLAIM_REFRESH_MAX_MILLIS);
  expect(claimRefreshMillis(1000)).toBe(250);
  expect(claimRefreshMillis(10)).toBe(100);
});
