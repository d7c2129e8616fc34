// Shared by the benchmarks: statistics over rounds, number formatting, a no-op exporter,
// and one measurement in a fresh process.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';

export function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

export const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Accepts every batch at once: measures the processor, not a backend. */
export class NoopExporter {
  exported = 0;
  export(spans, done) {
    this.exported += spans.length;
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown() {}
  async forceFlush() {}
}

/** The attributes of an HTTP server span: what the benchmarks' spans carry (with one event, the issue's measure). */
export const httpSpanAttributes = { 'http.request.method': 'GET', 'http.route': '/orders/:id', 'url.path': '/orders/12345', 'http.response.status_code': 200, 'user_agent.original': 'bench/1.0', 'server.address': 'shop.example' };

export const yieldToEventLoop = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `script` again in a fresh process with `env` added (so no measurement starts with a
 * heap another one grew), and Node's `nodeOptions`: its other lines pass through, and what it printed as
 * `RESULT <json>` (see printResult) comes back.
 */
export function resultOfChild(script, env, nodeOptions = []) {
  const child = spawn(process.execPath, [...nodeOptions, script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      const lines = output.split('\n');
      const result = lines.find((line) => line.startsWith('RESULT '));
      process.stdout.write(lines.filter((line) => line && !line.startsWith('RESULT ')).map((line) => `${line}\n`).join(''));
      if (code === 0 && result) resolve(JSON.parse(result.slice('RESULT '.length)));
      else reject(new Error(`${script} with ${JSON.stringify(env)} failed (${code})`));
    }),
  );
}

/** The child's side of resultOfChild. */
export function printResult(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

export function databaseUrl() {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/**
 * Seconds of CPU the machine has spent, all cores and processes (the "cpu" line of
 * /proc/stat: user nice system irq softirq), and seconds stolen by the hypervisor (steal:
 * a figure taken while it is high says the VM was not given its cores). PostgreSQL's
 * backends are other processes: the machine's time less our own is theirs, near enough.
 */
export function machineCpu() {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: (user + nice + system + irq + softirq) / 100, steal: steal / 100 }; // USER_HZ
}

/** Seconds of CPU this process has spent. */
export function ownCpu() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * The journal of a process that died with work in flight: bench/fixtures/deadJournalWriter.mjs
 * in a child process, SIGKILLed once it says READY. `settings`: its environment (SPANS,
 * OPEN_EVERY, PADDING_BYTES).
 */
export async function writeDeadJournal(journalDir, settings) {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures/deadJournalWriter.mjs')], {
    env: { ...process.env, ...settings, JOURNAL_DIR: journalDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('READY') && resolve());
    child.on('exit', (code) => reject(new Error(`journal writer exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
