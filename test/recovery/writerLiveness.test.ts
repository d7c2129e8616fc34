// The liveness rule, one test per branch: facts in, verdict out. The last test makes a
// real unreaped zombie and checks that recovery treats its journal as dead.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { claimedDirName, parseClaimedDirName } from '../../src/journal/journalPaths.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { decideLiveness } from '../../src/recovery/writerLiveness.js';
import { claimerLiveness, writerLiveness } from '../../src/recovery/livenessFacts.js';
import type { LivenessFacts, WriterFacts } from '../../src/recovery/writerLiveness.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const STALE = 300_000;
const here: WriterFacts = { onThisHost: true, sameBoot: true, pid: 4242, procStartTicks: '1000' };

function facts(overrides: Partial<LivenessFacts>): LivenessFacts {
  return { writer: here, pidNow: { state: 'S', startTicks: '1000' }, ownPid: 7, silentForMillis: 1_000, staleAfterMillis: STALE, ...overrides };
}

describe('decideLiveness', () => {
  it.each<{ branch: string; facts: LivenessFacts; alive: boolean; why: RegExp }>([
    { branch: 'the same process still runs', facts: facts({}), alive: true, why: /^pid 4242 is still running$/ },
    {
      branch: 'the same process still runs, silent for long (silence alone proves nothing here)',
      facts: facts({ silentForMillis: 10 * STALE }),
      alive: true,
      why: /^pid 4242 is still running$/,
    },
    { branch: 'this very process (another provider, a worker thread)', facts: facts({ ownPid: 4242 }), alive: true, why: /^written by this process$/ },
    { branch: 'another boot', facts: facts({ writer: { ...here, sameBoot: false }, pidNow: undefined }), alive: false, why: /rebooted/ },
    { branch: 'pid gone', facts: facts({ pidNow: null }), alive: false, why: /^pid 4242 no longer runs$/ },
    {
      branch: 'pid reused (start time differs)',
      facts: facts({ pidNow: { state: 'S', startTicks: '2000' } }),
      alive: false,
      why: /^pid 4242 now belongs to another process$/,
    },
    {
      branch: 'container restarted as pid 1 (the asking process is the new pid 1)',
      facts: facts({ writer: { ...here, pid: 1 }, ownPid: 1, pidNow: { state: 'S', startTicks: '5000' } }),
      alive: false,
      why: /^pid 1 now belongs to another process$/,
    },
    {
      branch: 'written in another pid namespace, its lock not to be asked, recently alive (its pid here is another process)',
      facts: facts({ writer: { ...here, pid: 1, samePidNamespace: false }, pidNow: undefined }),
      alive: true,
      why: /^written in another pid namespace \(another container\); last sign of life 1 s ago$/,
    },
    {
      branch: 'written in another pid namespace, its lock not to be asked, silent beyond staleAfterMillis',
      facts: facts({ writer: { ...here, pid: 1, samePidNamespace: false }, pidNow: undefined, silentForMillis: 2 * STALE }),
      alive: false,
      why: /^written in another pid namespace \(another container\); no sign of life for 600 s$/,
    },
    {
      branch: 'written in this pid namespace: its pid is looked up',
      facts: facts({ writer: { ...here, samePidNamespace: true }, pidNow: null }),
      alive: false,
      why: /^pid 4242 no longer runs$/,
    },
    {
      branch: 'its lock held, though its pid is gone (a writer in another pid namespace)',
      facts: facts({ lock: 'held', pidNow: null }),
      alive: true,
      why: /^a process holds its journal lock$/,
    },
    {
      branch: 'its lock free on this kernel, though its pid runs (a namesake in another pid namespace)',
      facts: facts({ lock: 'free' }),
      alive: false,
      why: /^no process holds its journal lock$/,
    },
    {
      branch: 'its lock free, written under another kernel (the lock says nothing there)',
      facts: facts({ lock: 'free', writer: { ...here, onThisHost: false, sameBoot: false }, pidNow: undefined }),
      alive: true,
      why: /^written on another host; last sign of life/,
    },
    {
      branch: 'a worker thread of this process that has ended',
      facts: facts({ writer: { ...here, thread: { tid: 4250, startTicks: '1100' } }, ownPid: 4242, threadNow: null }),
      alive: false,
      why: /^thread 4250 of pid 4242 has ended \(a worker thread\)$/,
    },
    {
      branch: 'a worker thread id reused by a later thread',
      facts: facts({ writer: { ...here, thread: { tid: 4250, startTicks: '1100' } }, threadNow: { state: 'S', startTicks: '1900' } }),
      alive: false,
      why: /^thread 4250 of pid 4242 now belongs to another thread$/,
    },
    {
      branch: 'a worker thread still running',
      facts: facts({ writer: { ...here, thread: { tid: 4250, startTicks: '1100' } }, threadNow: { state: 'S', startTicks: '1100' } }),
      alive: true,
      why: /^pid 4242 is still running$/,
    },
    {
      branch: 'a worker thread /proc cannot tell of (judged by its process)',
      facts: facts({ writer: { ...here, thread: { tid: 4250, startTicks: '1100' } }, threadNow: undefined }),
      alive: true,
      why: /^pid 4242 is still running$/,
    },
    {
      branch: 'a worker thread whose process has exited',
      facts: facts({ writer: { ...here, thread: { tid: 4250, startTicks: '1100' } }, pidNow: null, threadNow: null }),
      alive: false,
      why: /^pid 4242 no longer runs$/,
    },
    {
      branch: 'zombie (exited, not reaped)',
      facts: facts({ pidNow: { state: 'Z', startTicks: '1000' } }),
      alive: false,
      why: /zombie/,
    },
    { branch: 'dead (X)', facts: facts({ pidNow: { state: 'X', startTicks: '1000' } }), alive: false, why: /has exited/ },
    {
      branch: 'start time not recorded, pid runs (cannot tell reuse)',
      facts: facts({ writer: { ...here, procStartTicks: null }, pidNow: { state: 'S', startTicks: '9' } }),
      alive: true,
      why: /still running/,
    },
    {
      branch: 'another host and stale',
      facts: facts({ writer: { ...here, onThisHost: false }, pidNow: undefined, silentForMillis: STALE + 1 }),
      alive: false,
      why: /^written on another host; no sign of life for 300 s$/,
    },
    {
      branch: 'another host and fresh',
      facts: facts({ writer: { ...here, onThisHost: false }, pidNow: undefined, silentForMillis: STALE }),
      alive: true,
      why: /^written on another host; last sign of life 300 s ago$/,
    },
    {
      branch: 'another host, even when a local pid has the same number',
      facts: facts({ writer: { ...here, onThisHost: false }, silentForMillis: 5 }),
      alive: true,
      why: /another host/,
    },
    {
      branch: 'nothing checkable (no header), stale',
      facts: facts({ writer: undefined, pidNow: undefined, silentForMillis: STALE + 1 }),
      alive: false,
      why: /does not say which process wrote it; no sign of life/,
    },
    {
      branch: 'nothing checkable (no header), fresh',
      facts: facts({ writer: undefined, pidNow: undefined, silentForMillis: 0 }),
      alive: true,
      why: /does not say which process wrote it; last sign of life/,
    },
    {
      branch: 'no boot id to compare, stale',
      facts: facts({ writer: { ...here, sameBoot: undefined }, pidNow: undefined, silentForMillis: STALE + 1 }),
      alive: false,
      why: /no boot id/,
    },
    {
      branch: 'no boot id to compare, fresh',
      facts: facts({ writer: { ...here, sameBoot: undefined }, pidNow: undefined }),
      alive: true,
      why: /no boot id/,
    },
  ])('$branch → alive: $alive', ({ facts, alive, why }) => {
    const verdict = decideLiveness(facts);
    expect(verdict.alive).toBe(alive);
    expect(verdict.why).toMatch(why);
  });
});

function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return null;
  }
}

function threads(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/task`).length;
  } catch {
    return 0;
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('a writer that exited but was never reaped (zombie)', () => {
  it.runIf(process.platform === 'linux')('is dead: its journal is recovered', async () => {
    const journalDir = join(tempDir(), 'journal');
    const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
    // `exec sleep` replaces the shell, so the backgrounded writer becomes the child of a
    // process that never calls wait(): when the writer exits it stays a zombie.
    const parent = spawn('sh', ['-c', `"${process.execPath}" "${fixture}" >/dev/null 2>&1 & echo $!; exec sleep 600`], {
      env: { ...process.env, DATABASE_URL: 'postgres://127.0.0.1:1/none', JOURNAL_DIR: journalDir, LEDGER: join(tempDir(), 'ledger.jsonl'), CRASH_MODE: 'exit3', ENDED: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const writerPid = await new Promise<number>((resolve) => parent.stdout!.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
      // Its main thread shows 'Z' as soon as it exits, while its other threads may still be
      // ending and its descriptors (its writer lock among them) open: a loaded machine
      // showed it held, and the journal rightly alive. Dead is once its last thread is gone.
      await until(() => procState(writerPid) === 'Z' && threads(writerPid) <= 1);

      const exporter = new CollectingExporter();
      // The writer exported to an unreachable database: its journal names that destination.
      const report = await recoverJournals({ journalDir, exporter, recoverAnyDestination: true });
      expect(report).toMatchObject({ journals: 1, liveJournals: 0, spansCrashed: 3 });
      expect(procState(writerPid)).toBe('Z'); // still unreaped while recovery decided
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('claimedDirName', () => {
  const writerDir = `w${'0'.repeat(9)}-12-0-${'ab'.repeat(8)}`;
  const claimer = { ...currentWriterIdentity(), osThread: undefined };

  it('names a worker thread claimer by its thread, and reads it back', () => {
    const name = claimedDirName(writerDir, { ...claimer, osThread: { tid: 4250, startTicks: '1100' } });
    expect(parseClaimedDirName(name)).toMatchObject({ writerId: writerDir, claimerPid: process.pid, claimerThread: { tid: 4250, startTicks: '1100' } });
  });

  it('reads a main-thread claim (and one made before threads were named) without a thread', () => {
    const parsed = parseClaimedDirName(claimedDirName(writerDir, claimer));
    expect(parsed).toMatchObject({ writerId: writerDir, claimerPid: process.pid });
    expect(parsed?.claimerThread).toBeUndefined();
  });

  it('is not a claim when the thread part is malformed', () => {
    expect(parseClaimedDirName(`${claimedDirName(writerDir, claimer)}.12x-3`)).toBeUndefined();
  });

  it("names the claimer's pid namespace, after its thread if any, and reads it back", () => {
    const inNamespace = { ...claimer, pidNamespace: 'pid:[4026531836]' };
    expect(claimedDirName(writerDir, inNamespace)).toMatch(/\.n4026531836$/);
    expect(parseClaimedDirName(claimedDirName(writerDir, inNamespace))).toMatchObject({ claimerPid: process.pid, claimerPidNamespace: '4026531836' });
    const inThread = parseClaimedDirName(claimedDirName(writerDir, { ...inNamespace, osThread: { tid: 4250, startTicks: '1100' } }));
    expect(inThread).toMatchObject({ claimerThread: { tid: 4250, startTicks: '1100' }, claimerPidNamespace: '4026531836' });
    expect(parseClaimedDirName(`${claimedDirName(writerDir, claimer)}.nope`)).toBeUndefined();
    expect(parseClaimedDirName(`${claimedDirName(writerDir, inNamespace)}.n5`)).toBeUndefined();
  });

  it('judges a claimer of another pid namespace, where no claim lock answers, by silence: its pid 1 here is another process', () => {
    // Before: claims did not record a pid namespace, and a live recovery in another
    // container of a pod (no addon: Alpine, say) was taken over under it.
    const otherContainer = { ...claimer, pid: 1, procStartTicks: '1', pidNamespace: 'pid:[1]', writerId: `w${'0'.repeat(9)}-1-0-${'cd'.repeat(8)}` };
    const claim = parseClaimedDirName(claimedDirName(writerDir, otherContainer))!;
    const now = Date.now();
    expect(claimerLiveness(claim, undefined, now - 1_000, 300_000, now)).toMatchObject({ alive: true, why: /another pid namespace/ });
    expect(claimerLiveness(claim, undefined, now - 600_000, 300_000, now)).toMatchObject({ alive: false });
  });
});

describe('writerLiveness, judged by silence alone', () => {
  // A writer on another host with a 10 s heartbeat, silent for 5 s, judged with 3 s.
  const elsewhere = { ...currentWriterIdentity(), hostname: 'another-host', heartbeatIntervalMs: 10_000 };
  const now = Date.now();

  it('allows at least three of the writer\'s own heartbeat intervals, whatever the judge allows', () => {
    expect(writerLiveness({ header: elsewhere, lastSignOfLifeMs: now - 5_000, staleAfterMillis: 3_000, now }).alive).toBe(true);
    expect(writerLiveness({ header: elsewhere, lastSignOfLifeMs: now - 31_000, staleAfterMillis: 3_000, now }).alive).toBe(false);
  });
});
