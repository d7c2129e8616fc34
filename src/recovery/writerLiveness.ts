// The rule that decides whether a journal's writer is provably dead, as one pure function:
// facts in, verdict out, no /proc or os reads inside (livenessFacts.ts gathers the facts).
// A live process's journal is never recovered, so every doubt resolves to "alive" except
// silence beyond staleAfterMillis where nothing else can be checked (another host on a
// shared volume, or no boot id to compare).

import type { LockState } from '../journal/livenessLocks.js';
import type { OsThread } from '../journal/writerIdentity.js';

export type Liveness = { alive: true; why: string } | { alive: false; why: string };

/** What the journal (its segment header, or a claim's name) says of the process that wrote it. */
export interface WriterFacts {
  /** Its hostname is this host's. */
  onThisHost: boolean;
  /** Its boot id equals this boot's; undefined where either boot id is unknown. */
  sameBoot: boolean | undefined;
  /** Its pid namespace is this process's; undefined where either is unknown (older journals, claims). */
  samePidNamespace?: boolean;
  pid: number;
  /** Its start time in clock ticks since boot, as recorded then; null where it could not be read. */
  procStartTicks: string | null;
  /** The worker thread that wrote it (undefined: the main thread, or not recorded). */
  thread?: OsThread;
}

/**
 * What this host says now of the writer's pid: null when no process has that pid; else
 * its state letter and start ticks from /proc/<pid>/stat.
 */
export type PidNow = { state: string; startTicks: string } | null;

export interface LivenessFacts {
  /** undefined: the journal says nothing of its writer (no readable segment header). */
  writer: WriterFacts | undefined;
  /** undefined: not looked up (only a process on this host and in this boot is looked up). */
  pidNow: PidNow | undefined;
  /** The writer's thread now, as pidNow (null: the process has no such thread); undefined: not known. */
  threadNow?: PidNow;
  /** Whether a process holds the writer's lock (livenessLocks.ts); undefined: no lock to ask. */
  lock?: LockState;
  /** The pid of the process asking, to name "this process" in the verdict. */
  ownPid: number;
  /** Time since the writer's last sign of life (a heartbeat, a file's modification). */
  silentForMillis: number;
  staleAfterMillis: number;
}

/** Whether the writer's pid must be looked up on this host for decideLiveness to use it. */
export function needsPidLookup(writer: WriterFacts | undefined): writer is WriterFacts {
  return writer !== undefined && writer.onThisHost && writer.sameBoot === true && writer.samePidNamespace !== false;
}

export function decideLiveness(facts: LivenessFacts): Liveness {
  const { writer, pidNow } = facts;
  // The writer's flock is released by the kernel when it dies, and seen from every pid
  // namespace of this kernel: held, it is alive wherever it runs; free, on this kernel
  // (same boot id), it is dead. Only then come pids, which another namespace reuses.
  if (facts.lock === 'held') return { alive: true, why: 'a process holds its journal lock' };
  if (facts.lock === 'free' && writer?.sameBoot === true) return { alive: false, why: 'no process holds its journal lock' };
  if (!writer) return bySilence(facts, 'the journal does not say which process wrote it');
  if (!writer.onThisHost) return bySilence(facts, 'written on another host');
  if (writer.sameBoot === false) return { alive: false, why: 'the host has rebooted since' };
  if (writer.sameBoot === undefined) return bySilence(facts, 'no boot id to compare');
  // Its pid names a process of its own pid namespace (another container of a pod sharing
  // this volume, all of them pid 1): looked up here, it names another process. When its
  // lock cannot answer (no addon, or the lock file removed by a cleaner), silence must.
  if (writer.samePidNamespace === false) return bySilence(facts, 'written in another pid namespace (another container)');
  if (pidNow === undefined) return bySilence(facts, `pid ${writer.pid} was not looked up`);
  if (pidNow === null) return { alive: false, why: `pid ${writer.pid} no longer runs` };
  if (writer.procStartTicks !== null && pidNow.startTicks !== writer.procStartTicks) {
    // Also a container restarted as pid 1: the new pid 1 (perhaps the process asking)
    // started later than the one that wrote the journal.
    return { alive: false, why: `pid ${writer.pid} now belongs to another process` };
  }
  // A zombie (Z) has exited and only waits for its parent to reap it; X is dead outright.
  // Neither can write to its journal again, and a parent that never reaps (a pid 1 that is
  // not an init) would otherwise keep the journal "alive" forever, its spans unrecovered.
  if (pidNow.state === 'Z' || pidNow.state === 'X') {
    return { alive: false, why: `pid ${writer.pid} has exited (a zombie not yet reaped by its parent)` };
  }
  // A worker thread that ended (terminated, or returned) writes no more, though its process
  // runs on: its journal is recovered without waiting for the process to exit.
  const { thread } = writer;
  const { threadNow } = facts;
  if (thread !== undefined && threadNow !== undefined) {
    if (threadNow === null || threadNow.state === 'Z' || threadNow.state === 'X') {
      return { alive: false, why: `thread ${thread.tid} of pid ${writer.pid} has ended (a worker thread)` };
    }
    if (threadNow.startTicks !== thread.startTicks) {
      return { alive: false, why: `thread ${thread.tid} of pid ${writer.pid} now belongs to another thread` };
    }
  }
  if (writer.pid === facts.ownPid) return { alive: true, why: 'written by this process' };
  return { alive: true, why: `pid ${writer.pid} is still running` };
}

function bySilence({ silentForMillis, staleAfterMillis }: LivenessFacts, because: string): Liveness {
  const seconds = Math.round(silentForMillis / 1000);
  return silentForMillis > staleAfterMillis
    ? { alive: false, why: `${because}; no sign of life for ${seconds} s` }
    : { alive: true, why: `${because}; last sign of life ${seconds} s ago` };
}
