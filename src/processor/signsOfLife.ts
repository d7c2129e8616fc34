// What recovery later reads to date a crash and explain it: heartbeats at an interval, and
// a PROCESS_EXIT record written synchronously when the process exits or throws. The hooks
// only observe: `uncaughtExceptionMonitor` does not change whether the process dies, and
// the heartbeat timer is unref'd so it never keeps a process alive.
import type { ProcessExitRecord } from '../journal/recordTypes.js';

export interface SignsOfLifeTarget {
  heartbeat(): void;
  processExit(record: ProcessExitRecord): void;
}

export class SignsOfLife {
  private readonly target: SignsOfLifeTarget;
  private timer: NodeJS.Timeout | undefined;
  private readonly onExit = (code: number): void => {
    this.target.processExit({ ms: Date.now(), code: exitCodeOf(code) });
  };
  private readonly onUncaught = (error: unknown, origin: string): void => {
    const err = error instanceof Error ? error : new Error(String(error));
    this.target.processExit({
      ms: Date.now(),
      error: { name: err.name, message: `${err.message}${origin === 'unhandledRejection' ? ' (unhandled rejection)' : ''}`, stack: err.stack },
    });
  };

  constructor(target: SignsOfLifeTarget) {
    this.target = target;
  }

  start(heartbeatIntervalMillis: number): void {
    this.timer = setInterval(() => this.target.heartbeat(), heartbeatIntervalMillis);
    this.timer.unref();
    process.on('exit', this.onExit);
    process.on('uncaughtExceptionMonitor', this.onUncaught);
  }

  stop(): void {
    clearInterval(this.timer);
    process.off('exit', this.onExit);
    process.off('uncaughtExceptionMonitor', this.onUncaught);
  }
}

/**
 * The code the process really exits with. Node 20 hands 'exit' listeners 0 when an ESM
 * top-level await never settled, yet exits with 13 (process.exitCode is already 13 then);
 * process.exit(n) and an assigned process.exitCode are in process.exitCode as well.
 */
function exitCodeOf(code: number): number {
  const assigned = Number(process.exitCode);
  return process.exitCode !== undefined && process.exitCode !== null && Number.isInteger(assigned) ? assigned : code;
}
