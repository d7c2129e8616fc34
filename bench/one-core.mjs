// The application's span calls when its process has one core, as on a machine whose other
// cores are busy (PostgreSQL on the same host, other services): every thread the journal
// wakes (the thread-pool job that faults pages in ahead of the mapped writer, the one that
// unmaps the pages behind it, the release at rotation) and its export run in the
// application's time. Each contender runs in a fresh process pinned to one core with
// taskset (unpinned, and said, where taskset is missing); the time of each chunk of 64
// spans (startSpan + end) is recorded and its tail printed, and the wall time of the whole
// run per span, against the stock processor's.
//
// Kept from an experiment that moved the page faulting to a thread of the addon's own at
// idle priority (SCHED_IDLE), so that it would never run in the application's place: on
// one core it cost more per span (the writer faulted each page itself: 9.96 against 7.38
// µs, a run with other jobs on the machine), with the same tails, and a review measured
// such a thread off the CPU for up to 1.6 s beside one busy process, which held up the
// close of a segment, and with it the 'host' group commit, for seconds. Not kept.
//
// Environment: BENCH_SPANS (300000 per run), BENCH_ROUNDS (3).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchSpanProcessor, TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JournalSpanProcessor } from '../dist/esm/index.js';
import { NoopExporter, fmt, printResult, summary, yieldToEventLoop } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNK = 64;
const CONTENDERS = { stock: 'stock BatchSpanProcessor', mmap: "JournalSpanProcessor 'process' mmap" };

async function child(contender) {
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
  const processor =
    contender === 'stock' ? new BatchSpanProcessor({ exporter: new NoopExporter() }) : new JournalSpanProcessor({ exporter: new NoopExporter(), journalDir: join(dir, 'journal'), recover: false });
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench' }), spanProcessors: [processor] });
  const tracer = provider.getTracer('bench');
  const attributes = { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'url.path': '/orders/12345', 'http.response.status_code': 200 };
  const chunks = [];
  const wallStart = process.hrtime.bigint();
  for (let done = 0; done < SPANS; done += CHUNK) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CHUNK; i++) tracer.startSpan('GET /orders/:id', { attributes }).end();
    chunks.push(Number(process.hrtime.bigint() - start) / 1000);
    await yieldToEventLoop();
  }
  await provider.forceFlush();
  // On one core everything the processor does competes with the application: its export
  // and any thread it wakes run in the application's time too.
  const wallNs = Number(process.hrtime.bigint() - wallStart);
  const writePath = processor.stats?.().journalWritePath;
  await provider.shutdown();
  rmSync(dir, { recursive: true, force: true });
  const total = chunks.reduce((a, b) => a + b, 0);
  chunks.sort((a, b) => a - b);
  const at = (p) => chunks[Math.min(chunks.length - 1, Math.floor(p * chunks.length))];
  printResult({ nsPerSpan: (total * 1000) / SPANS, wallNsPerSpan: wallNs / SPANS, p99: at(0.99), p999: at(0.999), max: chunks.at(-1), writePath });
}

const taskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

function runPinned(contender) {
  const [command, args] = taskset ? ['taskset', ['-c', '0', process.execPath]] : [process.execPath, []];
  const proc = spawn(command, [...args, import.meta.filename, '--child', contender], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  proc.stdout.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) =>
    proc.on('exit', (code) => {
      const line = output.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)));
      else reject(new Error(`${contender} run failed (${code})`));
    }),
  );
}

if (process.argv[2] === '--child') await child(process.argv[3]);
else {
  const results = { stock: [], mmap: [] };
  for (let round = 0; round < ROUNDS; round++) for (const contender of Object.keys(CONTENDERS)) results[contender].push(await runPinned(contender));
  console.log(
    `one core: ${fmt(SPANS)} spans a run, ${ROUNDS} runs each, every process ${taskset ? 'pinned to one core (taskset -c 0)' : 'unpinned (no taskset here)'}; time of each chunk of ${CHUNK} spans, medians of the runs`,
  );
  const med = (contender, key) => summary(results[contender].map((r) => r[key])).median;
  for (const [contender, name] of Object.entries(CONTENDERS)) {
    const path = results[contender][0].writePath;
    const label = contender === 'mmap' && path !== 'mmap' ? `${name} (ran on ${path}: no addon)` : name;
    console.log(
      `  ${label.padEnd(36)} caller ${fmt(med(contender, 'nsPerSpan'))} ns/span, wall incl. export ${fmt(med(contender, 'wallNsPerSpan'))} ns/span; chunk p99 ${fmt(med(contender, 'p99'))} µs, p99.9 ${fmt(med(contender, 'p999'))} µs, max ${fmt(med(contender, 'max'))} µs`,
    );
  }
  console.log(
    `  journal vs stock on one core: ${fmt(med('mmap', 'nsPerSpan') / med('stock', 'nsPerSpan'), 2)}x per span in the caller, ${fmt(med('mmap', 'wallNsPerSpan') / med('stock', 'wallNsPerSpan'), 2)}x wall; chunk p99.9 ${fmt(med('mmap', 'p999') / med('stock', 'p999'), 2)}x, max ${fmt(med('mmap', 'max') / med('stock', 'max'), 2)}x`,
  );
}
