// Who is writing a journal: the facts recovery later uses to decide whether that writer
// is provably dead (another boot, a pid that is gone or reused, or silence).
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from '../untracedFs.js';
import { hostname } from 'node:os';
import { threadId } from 'node:worker_threads';

export interface WriterIdentity {
  writerId: string;
  pid: number;
  threadId: number;
  hostname: string;
  /** Linux `/proc/sys/kernel/random/boot_id`; null where it cannot be read. */
  bootId: string | null;
  /** Field 22 of `/proc/<pid>/stat` (clock ticks since boot); null off Linux. */
  procStartTicks: string | null;
  /** Wall-clock process start, milliseconds since the epoch. */
  processStartMs: number;
  /**
   * The operating system's thread, when the writer is a worker thread (undefined for the
   * main thread, off Linux, and in journals written before it was recorded): a worker
   * thread that ended is dead while its process runs on.
   */
  osThread?: OsThread;
  /**
   * Linux `readlink /proc/self/ns/pid` (`pid:[4026531836]`): a pid means this process only
   * in this namespace, and another container's pid 1 is not ours. Undefined where /proc
   * cannot tell, and in journals written before it was recorded.
   */
  pidNamespace?: string;
}

/** A thread of this process: its kernel thread id and start time in clock ticks since boot. */
export interface OsThread {
  tid: number;
  startTicks: string;
}

export function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** What /proc/<pid>/stat says of a running (or not yet reaped) process. */
export interface ProcStat {
  /** Field 3: R, S, D, T, Z (zombie: exited, not yet reaped), X (dead), ... */
  state: string;
  /**
   * Field 22: the process start time in clock ticks since boot. Two processes that share
   * a pid (a container restarted as pid 1) differ here.
   */
  startTicks: string;
}

/**
 * Fields of /proc/<pid>/stat; null when the pid does not exist or /proc cannot be read.
 * The command name (field 2) may contain spaces and parentheses, so fields are counted
 * after the last ')'.
 */
export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

function parseStat(stat: string): ProcStat | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, startTicks] = [fields[0], fields[19]];
  return state && startTicks ? { state, startTicks } : null;
}

/**
 * What /proc/<pid>/task/<tid>/stat says of a thread: null when the process has no such
 * thread (it has exited), undefined when /proc cannot tell (not Linux, no permission).
 */
export function readThreadStat(pid: number, tid: number): ProcStat | null | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? null : undefined;
  }
  return parseStat(stat) ?? undefined;
}

/** The calling thread, when it is not the process's main thread; undefined off Linux. */
export function currentOsThread(): OsThread | undefined {
  try {
    // "<pid>/task/<tid>", as the calling thread sees it (a synchronous call runs on it).
    const tid = Number(readlinkSync('/proc/thread-self').split('/')[2]);
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return undefined;
    const startTicks = readThreadStat(process.pid, tid)?.startTicks;
    return startTicks === undefined ? undefined : { tid, startTicks };
  } catch {
    return undefined;
  }
}

/** This process's pid namespace (see WriterIdentity.pidNamespace); undefined where /proc cannot tell. */
export function readPidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

export function readProcStartTicks(pid: number): string | null {
  return readProcStat(pid)?.startTicks ?? null;
}

/**
 * A writer id sorts by creation time and never collides: pid and host are not enough
 * (containers sharing a volume are all pid 1; hosts share names), so 64 random bits join them.
 */
export function newWriterId(now = Date.now()): string {
  return `w${now.toString(36).padStart(9, '0')}-${process.pid}-${threadId}-${randomBytes(8).toString('hex')}`;
}

export function currentWriterIdentity(): WriterIdentity {
  return {
    writerId: newWriterId(),
    pid: process.pid,
    threadId,
    hostname: hostname(),
    bootId: readBootId(),
    procStartTicks: readProcStartTicks(process.pid),
    processStartMs: Math.round(Date.now() - process.uptime() * 1000),
    osThread: currentOsThread(),
    pidNamespace: readPidNamespace(),
  };
}
