// Runs a script (workload.mjs, recoverInChild.mjs) as a real child process, waits until
// it says READY, lets it die (SIGKILL from here `killAfterMillis` after READY, or by its
// own hand, or it finishes), and resolves with how it ended.
import { spawn } from 'node:child_process';

/** The most of a child's stderr kept for a report (an OOM trace or an uncaught stack). */
const STDERR_TAIL_BYTES = 8 * 1024;
/**
 * A guard, not a synchronisation: a child that has not died this long after READY (or not
 * said READY this long after its spawn) is killed, and the run is reported as hung.
 */
const HUNG_AFTER_MILLIS = 120_000;

/**
 * @param {{ script: string, env: Record<string, string>, nodeArgs?: string[], killAfterMillis?: number }} options
 * @returns {Promise<{ ready: boolean, code: number | null, signal: string | null, hung: boolean, stdout: string, stderr: string }>}
 */
export function runChild({ script, env, nodeArgs = [], killAfterMillis }) {
  // abort() and V8's out-of-memory abort dump core where the limit allows it; hundreds of
  // runs would fill the disk. `exec` keeps the child's pid the node process's own.
  const [command, args] =
    process.platform === 'win32'
      ? [process.execPath, [...nodeArgs, script]]
      : ['/bin/sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', process.execPath, ...nodeArgs, script]];
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ready = false;
  let hung = false;
  let killTimer;
  const killNow = () => child.kill('SIGKILL');
  let guard = setTimeout(() => ((hung = true), killNow()), HUNG_AFTER_MILLIS);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    if (ready || !stdout.includes('READY\n')) return;
    ready = true;
    clearTimeout(guard);
    guard = setTimeout(() => ((hung = true), killNow()), HUNG_AFTER_MILLIS);
    if (killAfterMillis !== undefined) killTimer = setTimeout(killNow, killAfterMillis);
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      clearTimeout(killTimer);
      resolve({ ready, code, signal, hung, stdout, stderr });
    });
  });
}
