// A disk whose syncs take SLOW_SYNC_MS (default 1500 ms: a throttled network volume),
// made with an LD_PRELOAD shim (bench/fixtures/slowSync.c, built here with cc). An
// application journals spans for a few seconds, 1 MiB segments, under 'process' (no sync:
// the baseline) and under 'host', each in a fresh process: how long its own thread-pool
// calls waited meanwhile, and how long shutdown() took and held its event loop.
//
// Environment: SLOW_SYNC_MS (1500), BENCH_SECONDS (5), FLUSH_TIMEOUT_MILLIS (5000).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, resultOfChild } from './benchSupport.mjs';

const SLOW_SYNC_MS = Number(process.env.SLOW_SYNC_MS ?? 1500);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FLUSH_TIMEOUT_MILLIS = Number(process.env.FLUSH_TIMEOUT_MILLIS ?? 5000);

const build = mkdtempSync(join(tmpdir(), 'otel-blackbox-slow-sync-'));
const shim = join(build, 'slowSync.so');
try {
  execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', shim, join(import.meta.dirname, 'fixtures/slowSync.c'), '-ldl'], { stdio: 'pipe' });
} catch (error) {
  console.log(`slow disk: not measured: the LD_PRELOAD shim could not be built with cc (${String(error.message).split('\n')[0]})`);
  process.exit(0);
}

const runApp = (durability) =>
  resultOfChild(join(import.meta.dirname, 'fixtures/slowDiskApp.mjs'), {
    LD_PRELOAD: shim,
    SLOW_SYNC_MS: String(SLOW_SYNC_MS),
    SECONDS: String(SECONDS),
    FLUSH_TIMEOUT_MILLIS: String(FLUSH_TIMEOUT_MILLIS),
    DURABILITY: durability,
  });

console.log(
  `slow disk: every sync takes ${fmt(SLOW_SYNC_MS)} ms (LD_PRELOAD shim); spans journaled for ${SECONDS} s, 1 MiB segments, flushTimeoutMillis ${fmt(FLUSH_TIMEOUT_MILLIS)}; ` +
    `the application's own fs.stat every 20 ms on the thread pool; each in a fresh process`,
);
try {
  for (const [durability, label] of [
    ['process', "'process' (no syncs)  [baseline]"],
    ['host', "'host'"],
  ]) {
    const result = await runApp(durability);
    console.log(
      `  ${label.padEnd(34)} ${fmt(result.spans)} spans; the application's fs.stat: longest wait ${fmt(result.poolLongest, 1)} ms (${fmt(result.poolCalls)} calls); ` +
        `shutdown() ${fmt(result.shutdownMillis)} ms, event loop held at most ${fmt(result.held, 1)} ms`,
    );
  }
} finally {
  rmSync(build, { recursive: true, force: true });
}
