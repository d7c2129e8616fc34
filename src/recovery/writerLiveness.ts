// Decides whether a journal's writer is provably dead. A live process's journal is never
// recovered, so every doubt resolves to "alive" except silence beyond staleAfterMillis
// where nothing else can be checked (another host on a shared volume).
import { hostname } from 'node:os';
import { shortHash } from '../journal/journalPaths.js';
import type { ClaimName } from '../journal/journalPaths.js';
import type { SegmentHeader } from '../journal/recordTypes.js';
import { readBootId, readProcStartTicks } from '../journal/writerIdentity.js';

export type Liveness = { alive: true; why: string } | { alive: false; why: string };

/** The parts of a segment header (or a recovery claim) that identify a process. */
export type ProcessIdentity = Pick<SegmentHeader, 'hostname' | 'bootId' | 'pid' | 'procStartTicks'>;

export interface LivenessFacts {
  header: ProcessIdentity | undefined;
  lastSignOfLifeMs: number;
  staleAfterMillis: number;
  now?: number;
}

/** Liveness of the process that claimed a directory, from what the claim's name says. */
export function claimerLiveness(claim: ClaimName, claimedMs: number, staleAfterMillis: number, now = Date.now()): Liveness {
  const sameHost = claim.claimerHostHash === shortHash(hostname());
  const bootId = readBootId();
  const header: ProcessIdentity | undefined = sameHost
    ? {
        hostname: hostname(),
        bootId: claim.claimerBootHash === shortHash(bootId) ? bootId : `another boot (${claim.claimerBootHash})`,
        pid: claim.claimerPid,
        procStartTicks: claim.claimerStartTicks,
      }
    : undefined;
  return writerLiveness({ header, lastSignOfLifeMs: claimedMs, staleAfterMillis, now });
}

export function writerLiveness({ header, lastSignOfLifeMs, staleAfterMillis, now = Date.now() }: LivenessFacts): Liveness {
  const silentFor = now - lastSignOfLifeMs;
  const silence = (): Liveness =>
    silentFor > staleAfterMillis
      ? { alive: false, why: `no sign of life for ${Math.round(silentFor / 1000)} s` }
      : { alive: true, why: `cannot check the process; last sign of life ${Math.round(silentFor / 1000)} s ago` };
  if (!header) return silence();
  if (header.hostname !== hostname()) return silence();
  const bootId = readBootId();
  if (header.bootId && bootId && header.bootId !== bootId) return { alive: false, why: 'the host has rebooted since' };
  if (!header.bootId || !bootId) return silence();
  if (header.pid === process.pid) {
    // This very process (another provider, or a worker thread): alive by definition.
    return { alive: true, why: 'written by this process' };
  }
  const ticks = readProcStartTicks(header.pid);
  if (ticks === null) return { alive: false, why: `pid ${header.pid} no longer runs` };
  if (header.procStartTicks !== null && ticks !== header.procStartTicks) {
    return { alive: false, why: `pid ${header.pid} now belongs to another process` };
  }
  return { alive: true, why: `pid ${header.pid} is still running` };
}
