// Layout of a journal directory: one sub-directory per writer (process or worker thread),
// holding numbered segment files. A whole writer directory is the unit recovery claims,
// with one atomic rename.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { OsThread, WriterIdentity } from './writerIdentity.js';

const SEGMENT_PATTERN = /^(\d{8})\.seg$/;
const CLAIM_MARKER = '.recovering-';

/** A segment's number as its files spell it: eight digits. */
function segmentNumberText(segment: number): string {
  return String(segment).padStart(8, '0');
}

export function segmentFileName(segment: number): string {
  return `${segmentNumberText(segment)}.seg`;
}

export function segmentPath(writerDir: string, segment: number): string {
  return join(writerDir, segmentFileName(segment));
}

/**
 * The side file of a segment kept for the STARTs of spans still open: the spans of it that
 * have ended since, whose ENDs went with later segments (SettledSpans.ts). Not a segment.
 */
export function settledFileName(segment: number): string {
  return `${segmentNumberText(segment)}.settled`;
}

export function settledPath(writerDir: string, segment: number): string {
  return join(writerDir, settledFileName(segment));
}

/** Segment number of a file name, or undefined when the file is not a segment. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_PATTERN.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Where a recovery keeps how far it got in the writer directory it claimed
 * (recovery/RecoveryProgress.ts), so a recovery that is stopped and started again resumes
 * there. Written as the temporary name, then renamed over. Neither name is a segment.
 */
export const RECOVERY_PROGRESS_FILE = 'recovery-progress.json';
export const RECOVERY_PROGRESS_TEMP_FILE = `${RECOVERY_PROGRESS_FILE}.tmp`;

/** The file whose flock a live writer holds (livenessLocks.ts). Not a segment. */
export const WRITER_LOCK_FILE = 'writer.lock';

/** The file whose flock a recovery holds in the directory it claimed, named by the claimer. */
export function claimLockFileName(claimerId: string): string {
  return `claim-${claimerId}.lock`;
}

/**
 * A recovered journal is renamed to this (in one step) before it is removed: a recoverer
 * killed halfway through removing it left a journal with some segments gone, and the next
 * took STARTs whose ENDs had gone for open spans (crash records for spans that had ended)
 * and exported the rest again. Such a name is no journal: a later scan removes it.
 */
const RECOVERED_PREFIX = '.recovered-';

export function recoveredDirName(): string {
  return `${RECOVERED_PREFIX}${randomBytes(8).toString('hex')}`;
}

export function isRecoveredDirName(name: string): boolean {
  return name.startsWith(RECOVERED_PREFIX);
}

export function isWriterDirName(name: string): boolean {
  return /^w[0-9a-z]{9}-\d+-\d+-[0-9a-f]{16}$/.test(name);
}

/** Eight hex characters standing for a longer value (a hostname, a boot id) in a file name. */
export function shortHash(value: string | null): string {
  return value === null ? '00000000' : createHash('sha256').update(value).digest('hex').slice(0, 8);
}

/** What a claimed directory's name says of its claimer: enough to check it is alive. */
export interface ClaimName {
  writerId: string;
  claimerId: string;
  claimerPid: number;
  claimerStartTicks: string | null;
  claimerHostHash: string;
  claimerBootHash: string;
  /** The claimer's worker thread (undefined: its main thread). */
  claimerThread?: OsThread;
  /** The inode number of the claimer's pid namespace (undefined: not known, or a claim made before it was recorded). */
  claimerPidNamespace?: string;
}

/**
 * `<writer id>.recovering-<claimer id>.<start ticks>.<host hash>.<boot hash>[.<tid>-<thread start ticks>][.n<pid namespace>]`:
 * the rename that claims a directory names the claimer completely, so no later step can be
 * missing. The optional parts name the claimer's thread when it is a worker thread, and its
 * pid namespace (the inode number `readlink /proc/self/ns/pid` shows): a claimer in another
 * container is then judged by silence, not by a pid of ours, where no claim lock answers.
 */
export function claimedDirName(writerDirName: string, claimer: WriterIdentity): string {
  const ticks = claimer.procStartTicks ?? 'x';
  const thread = claimer.osThread ? `.${claimer.osThread.tid}-${claimer.osThread.startTicks}` : '';
  const namespace = pidNamespaceNumber(claimer.pidNamespace);
  return `${writerDirName}${CLAIM_MARKER}${claimer.writerId}.${ticks}.${shortHash(claimer.hostname)}.${shortHash(claimer.bootId)}${thread}${namespace === undefined ? '' : `.n${namespace}`}`;
}

/**
 * The longest path recovery may need under `journalDir`: a claimed directory's claim lock,
 * with every field of the claim at its longest (pids, thread ids and namespaces of 10
 * digits, start ticks of 20). A journal written where that does not fit is never recovered:
 * its claim lock fails with ENAMETOOLONG at every scan.
 */
export function longestRecoveryPathBytes(journalDir: string): number {
  const writerId = `w${'0'.repeat(9)}-${'9'.repeat(10)}-${'9'.repeat(10)}-${'f'.repeat(16)}`;
  const longestClaimer: WriterIdentity = {
    writerId,
    pid: 9_999_999_999,
    threadId: 9_999_999_999,
    hostname: 'any',
    bootId: 'any',
    procStartTicks: '9'.repeat(20),
    processStartMs: 0,
    osThread: { tid: 9_999_999_999, startTicks: '9'.repeat(20) },
    pidNamespace: `pid:[${'9'.repeat(10)}]`,
  };
  const inClaim = Math.max(claimLockFileName(writerId).length, RECOVERY_PROGRESS_TEMP_FILE.length);
  return Buffer.byteLength(join(journalDir, claimedDirName(writerId, longestClaimer), 'x'.repeat(inClaim)));
}

/** Linux's PATH_MAX, its terminating NUL included. */
export const PATH_MAX_BYTES = 4096;

/** The inode number in `pid:[4026531836]`; undefined for anything else. */
export function pidNamespaceNumber(pidNamespace: string | undefined): string | undefined {
  return /^pid:\[(\d+)\]$/.exec(pidNamespace ?? '')?.[1];
}

export function parseClaimedDirName(name: string): ClaimName | undefined {
  const at = name.indexOf(CLAIM_MARKER);
  if (at < 0) return undefined;
  const writerId = name.slice(0, at);
  const [claimerId, ticks, claimerHostHash, claimerBootHash, ...optional] = name.slice(at + CLAIM_MARKER.length).split('.');
  if (!isWriterDirName(writerId) || !isWriterDirName(claimerId)) return undefined;
  if (!/^(\d+|x)$/.test(ticks ?? '') || !/^[0-9a-f]{8}$/.test(claimerHostHash ?? '') || !/^[0-9a-f]{8}$/.test(claimerBootHash ?? '')) {
    return undefined;
  }
  // In this order, each at most once: the thread, then the pid namespace.
  const namespacePart = optional.at(-1)?.startsWith('n') ? optional.pop() : undefined;
  const [thread, ...rest] = optional;
  if (rest.length > 0) return undefined;
  const namespace = namespacePart === undefined ? undefined : /^n(\d+)$/.exec(namespacePart)?.[1];
  if (namespacePart !== undefined && namespace === undefined) return undefined;
  const threadParts = thread === undefined ? undefined : /^(\d+)-(\d+)$/.exec(thread);
  if (threadParts === null) return undefined;
  const claim: ClaimName = {
    writerId,
    claimerId,
    claimerPid: Number(claimerId.split('-')[1]),
    claimerStartTicks: ticks === 'x' ? null : ticks,
    claimerHostHash,
    claimerBootHash,
  };
  if (threadParts) claim.claimerThread = { tid: Number(threadParts[1]), startTicks: threadParts[2]! };
  if (namespace !== undefined) claim.claimerPidNamespace = namespace;
  return claim;
}
