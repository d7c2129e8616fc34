// What recovery later reads to date a crash and explain it: heartbeats at an interval, and
// a PROCESS_EXIT record written synchronously when the process exits or throws. The hooks
// only observe: `uncaughtExceptionMonitor` does not change whether the process dies, and
// the heartbeat timer is unref'd so it never keeps a process alive.
import type { ProcessExitRecord } from '../journal/recordTypes.js';
import { EXIT_TEXT_LIMITS } from '../recovery/crashRecords.js';
import { cutText } from '../valueLimits.js';

export interface SignsOfLifeTarget {
  heartbeat(): void;
  /** `exiting`: told from 'exit', after which nothing of this process (or worker thread) runs. */
  processExit(record: ProcessExitRecord, exiting: boolean): void;
}

export class SignsOfLife {
  private readonly target: SignsOfLifeTarget;
  private timer: NodeJS.Timeout | undefined;

  constructor(target: SignsOfLifeTarget) {
    this.target = target;
  }

  start(heartbeatIntervalMillis: number): void {
    this.timer = setInterval(() => this.target.heartbeat(), heartbeatIntervalMillis);
    this.timer.unref();
    watch(this.target);
  }

  stop(): void {
    clearInterval(this.timer);
    unwatch(this.target);
  }
}

/**
 * Every live processor's target, told by one listener of each kind: a listener per
 * processor made Node warn of a possible leak (MaxListenersExceededWarning) on the
 * application's stderr from the eleventh live processor on.
 */
const watched = new Set<SignsOfLifeTarget>();

function tellEach(record: ProcessExitRecord, exiting = false): void {
  for (const target of watched) {
    try {
      target.processExit(record, exiting);
    } catch {
      // The others are still told: each writes to a journal of its own.
    }
  }
}

const onExit = (code: number): void => tellEach({ ms: Date.now(), code: exitCodeOf(code) }, true);

const onUncaught = (error: unknown, origin: string): void => {
  const err = error instanceof Error ? error : new Error(String(error));
  tellEach({
    ms: Date.now(),
    error: {
      // Cut as a reason will take them (EXIT_TEXT_LIMITS: each crash record repeats it).
      name: cutText(String(err.name), EXIT_TEXT_LIMITS.name),
      message: `${cutText(String(err.message), EXIT_TEXT_LIMITS.message)}${origin === 'unhandledRejection' ? ' (unhandled rejection)' : ''}`,
      stack: typeof err.stack === 'string' ? cutText(err.stack, EXIT_TEXT_LIMITS.stack) : err.stack,
    },
  });
};

function watch(target: SignsOfLifeTarget): void {
  if (watched.size === 0) {
    process.on('exit', onExit);
    process.on('uncaughtExceptionMonitor', onUncaught);
  }
  watched.add(target);
}

function unwatch(target: SignsOfLifeTarget): void {
  if (!watched.delete(target) || watched.size > 0) return;
  process.off('exit', onExit);
  process.off('uncaughtExceptionMonitor', onUncaught);
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
