// Gathers what decideLiveness needs: what a segment header or a claim's name says of its
// writer, compared with this host and boot, and what /proc says of that pid now.
import { hostname } from 'node:os';
import { pidNamespaceNumber, shortHash } from '../journal/journalPaths.js';
import type { ClaimName } from '../journal/journalPaths.js';
import type { SegmentHeader } from '../journal/recordTypes.js';
import { readBootId, readPidNamespace, readProcStat, readThreadStat } from '../journal/writerIdentity.js';
import type { LockState } from '../journal/livenessLocks.js';
import { decideLiveness, needsPidLookup } from './writerLiveness.js';
import type { Liveness, WriterFacts } from './writerLiveness.js';

/** The parts of a segment header that identify a process. */
export type ProcessIdentity = Pick<SegmentHeader, 'hostname' | 'bootId' | 'pid' | 'procStartTicks' | 'osThread' | 'pidNamespace'>;

function factsOfHeader(header: ProcessIdentity): WriterFacts {
  const bootId = readBootId();
  return {
    onThisHost: header.hostname === hostname(),
    sameBoot: header.bootId && bootId ? header.bootId === bootId : undefined,
    samePidNamespace: isOwnPidNamespace(pidNamespaceNumber(typeof header.pidNamespace === 'string' ? header.pidNamespace : undefined)),
    pid: header.pid,
    procStartTicks: header.procStartTicks,
    thread: header.osThread,
  };
}

/** Whether the pid namespace numbered `theirs` (pidNamespaceNumber) is this process's; undefined where either is unknown. */
function isOwnPidNamespace(theirs: string | undefined): boolean | undefined {
  const ours = pidNamespaceNumber(readPidNamespace());
  return theirs !== undefined && ours !== undefined ? theirs === ours : undefined;
}

/** A claim's name carries hashes of the claimer's host and boot id, and its pid namespace (see journalPaths). */
function factsOfClaim(claim: ClaimName): WriterFacts {
  const bootId = readBootId();
  const claimerHadBootId = claim.claimerBootHash !== shortHash(null);
  return {
    onThisHost: claim.claimerHostHash === shortHash(hostname()),
    sameBoot: bootId && claimerHadBootId ? claim.claimerBootHash === shortHash(bootId) : undefined,
    pid: claim.claimerPid,
    procStartTicks: claim.claimerStartTicks,
    thread: claim.claimerThread,
    samePidNamespace: isOwnPidNamespace(claim.claimerPidNamespace),
  };
}

function livenessOf(
  writer: WriterFacts | undefined,
  lock: LockState | undefined,
  lastSignOfLifeMs: number,
  staleAfterMillis: number,
  now: number,
): Liveness {
  const lookUp = needsPidLookup(writer);
  return decideLiveness({
    writer,
    lock,
    pidNow: lookUp ? readProcStat(writer.pid) : undefined,
    threadNow: lookUp && writer.thread ? readThreadStat(writer.pid, writer.thread.tid) : undefined,
    ownPid: process.pid,
    silentForMillis: now - lastSignOfLifeMs,
    staleAfterMillis,
  });
}

export interface WriterLivenessInput {
  header: (ProcessIdentity & { heartbeatIntervalMs?: number }) | undefined;
  /** What the writer's lock says (probeWriter.ts); undefined where there is none to ask. */
  lock?: LockState;
  lastSignOfLifeMs: number;
  staleAfterMillis: number;
  now?: number;
}

/** Liveness of the process that wrote a journal, from its first segment's header. */
export function writerLiveness({ header, lock, lastSignOfLifeMs, staleAfterMillis, now = Date.now() }: WriterLivenessInput): Liveness {
  return livenessOf(header && factsOfHeader(header), lock, lastSignOfLifeMs, silenceAllowed(header, staleAfterMillis), now);
}

/**
 * The silence that proves a writer dead: at least three of its own heartbeat intervals,
 * whatever the judge was configured with. A writer beating every 10 s was judged dead by a
 * judge allowing 3 s, where only silence can be asked (another host, no lock).
 */
function silenceAllowed(header: WriterLivenessInput['header'], staleAfterMillis: number): number {
  const interval = header?.heartbeatIntervalMs;
  return typeof interval === 'number' && Number.isFinite(interval) && interval > 0 ? Math.max(staleAfterMillis, 3 * interval) : staleAfterMillis;
}

/** Liveness of the process that claimed a directory, from what the claim's name says. */
export function claimerLiveness(claim: ClaimName, lock: LockState | undefined, claimedMs: number, staleAfterMillis: number, now = Date.now()): Liveness {
  return livenessOf(factsOfClaim(claim), lock, claimedMs, staleAfterMillis, now);
}
