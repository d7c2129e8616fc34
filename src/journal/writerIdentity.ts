// Who is writing a journal: the facts recovery later uses to decide whether that writer
// is provably dead (another boot, a pid that is gone or reused, or silence).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
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
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, startTicks] = [fields[0], fields[19]];
    return state && startTicks ? { state, startTicks } : null;
  } catch {
    return null;
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
  };
}
