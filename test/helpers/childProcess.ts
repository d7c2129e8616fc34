// Runs a fixture as a real child process and waits for what it says or how it dies.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunningChild {
  child: ChildProcess;
  /** Resolves with the JSON after "READY " on the child's stdout. */
  ready: Promise<Record<string, string>>;
  /** Resolves when the child has exited, with its code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** A Node to run instead of this one: `command` with `args` before Node's own (an emulator and its Node). */
export interface NodeLauncher {
  command: string;
  args: string[];
}

export function runFixture(path: string, env: Record<string, string>, nodeArgs: string[] = [], options: { cwd?: string; node?: NodeLauncher } = {}): RunningChild {
  const node = options.node ?? { command: process.execPath, args: [] };
  const child = spawn(node.command, [...node.args, ...nodeArgs, path], {
    env: { ...process.env, ...env },
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const ready = new Promise<Record<string, string>>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const match = /READY (.*)\n/.exec(stdout);
      if (match) resolve(JSON.parse(match[1]));
    });
    void exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) before READY: ${stderr}`)));
  });
  ready.catch(() => {});
  return { child, ready, exited };
}

export interface LedgerEntry {
  event: 'start' | 'end';
  traceId: string;
  spanId: string;
  name?: string;
  parent?: string;
}

/** A span's identity: its id is unique within its trace only. */
export function spanKey(traceId: string, spanId: string): string {
  return `${traceId}:${spanId}`;
}

/** What the child's own ledger says it started and ended, by spanKey. */
export function readLedger(path: string): { started: Map<string, LedgerEntry>; ended: Set<string> } {
  const started = new Map<string, LedgerEntry>();
  const ended = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const entry = JSON.parse(line) as LedgerEntry;
    if (entry.event === 'start') started.set(spanKey(entry.traceId, entry.spanId), entry);
    else ended.add(spanKey(entry.traceId, entry.spanId));
  }
  return { started, ended };
}
