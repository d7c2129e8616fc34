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

/**
 * What can be known of a process from here: whether it ran on this host and in this boot
 * (undefined where a boot id cannot be read), its pid and its start time.
 */
interface ProcessFacts {
  onThisHost: boolean;
  sameBoot: boolean | undefined;
  pid: number;
  procStartTicks: string | null;
}

function factsOfHeader(header: ProcessIdentity): ProcessFacts {
  const bootId = readBootId();
  return {
    onThisHost: header.hostname === hostname(),
    sameBoot: header.bootId && bootId ? header.bootId === bootId : undefined,
    pid: header.pid,
    procStartTicks: header.procStartTicks,
  };
}

/** A claim's name carries hashes of the claimer's host and boot id (see journalPaths). */
function factsOfClaim(claim: ClaimName): ProcessFacts {
  const bootId = readBootId();
  const claimerHadBootId = claim.claimerBootHash !== shortHash(null);
  return {
    onThisHost: claim.claimerHostHash === shortHash(hostname()),
    sameBoot: bootId && claimerHadBootId ? claim.claimerBootHash === shortHash(bootId) : undefined,
    pid: claim.claimerPid,
    procStartTicks: claim.claimerStartTicks,
  };
}

/** Liveness of the process that claimed a directory, from what the claim's name says. */
export function claimerLiveness(claim: ClaimName, claimedMs: number, staleAfterMillis: number, now = Date.now()): Liveness {
  return processLiveness(factsOfClaim(claim), claimedMs, staleAfterMillis, now);
}

export function writerLiveness({ header, lastSignOfLifeMs, staleAfterMillis, now = Date.now() }: LivenessFacts): Liveness {
  return processLiveness(header && factsOfHeader(header), lastSignOfLifeMs, staleAfterMillis, now);
}

function processLiveness(facts: ProcessFacts | undefined, lastSignOfLifeMs: number, staleAfterMillis: number, now: number): Liveness {
  const silentFor = now - lastSignOfLifeMs;
  const silence = (): Liveness =>
    silentFor > staleAfterMillis
      ? { alive: false, why: `no sign of life for ${Math.round(silentFor / 1000)} s` }
      : { alive: true, why: `cannot check the process; last sign of life ${Math.round(silentFor / 1000)} s ago` };
  if (!facts || !facts.onThisHost) return silence();
  if (facts.sameBoot === false) return { alive: false, why: 'the host has rebooted since' };
  if (facts.sameBoot === undefined) return silence();
  if (facts.pid === process.pid) {
    // This very process (another provider, or a worker thread): alive by definition.
    return { alive: true, why: 'written by this process' };
  }
  const ticks = readProcStartTicks(facts.pid);
  if (ticks === null) return { alive: false, why: `pid ${facts.pid} no longer runs` };
  if (facts.procStartTicks !== null && ticks !== facts.procStartTicks) {
    return { alive: false, why: `pid ${facts.pid} now belongs to another process` };
  }
  return { alive: true, why: `pid ${facts.pid} is still running` };
}
