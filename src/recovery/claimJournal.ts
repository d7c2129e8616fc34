// Claiming a dead writer's directory is one rename, and the new name says who claimed it
// (pid, process start time, host, boot): of two processes that try at once exactly one
// succeeds, and a claimer that dies mid-recovery is seen dead by the same rules as any
// writer. Its claim is then taken over with another rename; replays are idempotent, so
// the second recovery writes the same rows.
import { chmod, rename, stat } from '../untracedFsPromises.js';
import { join } from 'node:path';
import { claimedDirName, parseClaimedDirName } from '../journal/journalPaths.js';
import type { WriterIdentity } from '../journal/writerIdentity.js';

/** Renames `journalDir/<name>` to a claim by `claimer`; undefined when someone else won. */
export async function claimDirectory(journalDir: string, name: string, claimer: WriterIdentity): Promise<string | undefined> {
  const writerId = parseClaimedDirName(name)?.writerId ?? name;
  const claimed = join(journalDir, claimedDirName(writerId, claimer));
  try {
    await rename(join(journalDir, name), claimed);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return undefined;
    throw error;
  }
  return claimed;
}

/** Gives a claim back (recovery could not finish, e.g. the database is down). */
export async function releaseClaim(journalDir: string, claimedDir: string): Promise<void> {
  const parsed = parseClaimedDirName(claimedDir.slice(journalDir.length + 1));
  if (!parsed) return;
  try {
    await rename(claimedDir, join(journalDir, parsed.writerId));
  } catch {
    // Left claimed: once this process is gone, the claim is stale and taken over.
  }
}

/**
 * Keeps a claim looking alive while its recovery runs, until the returned function is
 * called. A claimer on another host is judged by its claim directory's ctime (a pid cannot
 * be checked there), which the progress saves (RecoveryProgress.ts) refresh only while
 * batches commit: during a database outage a live claimer went stale after
 * staleAfterMillis, and another host's process took the journal over mid-recovery. So the
 * directory gets a chmod to the mode it has, four times per staleAfterMillis and at least
 * every CLAIM_REFRESH_MAX_MILLIS: that sets its ctime and nothing else (its mtime stays
 * what a given-back journal is judged by).
 */
export function keepClaimFresh(claimedDir: string, staleAfterMillis: number): () => void {
  const touch = (): void => {
    stat(claimedDir)
      .then(({ mode }) => chmod(claimedDir, mode & 0o7777))
      .catch(() => {
        // Gone or renamed: the recovery finds out by itself.
      });
  };
  // Unref'd: never what keeps a process alive.
  const timer = setInterval(touch, claimRefreshMillis(staleAfterMillis)).unref();
  return () => clearInterval(timer);
}

/**
 * The judge of a claim on another host uses its own staleAfterMillis, which may be shorter
 * than the claimer's (services sharing a volume, configured apart): refreshed only four
 * times per the claimer's 5 minutes, a live claim looked stale to a judge with 1 minute,
 * and was taken over mid-recovery. A chmod every 5 s costs nothing.
 */
export const CLAIM_REFRESH_MAX_MILLIS = 5_000;

export function claimRefreshMillis(staleAfterMillis: number): number {
  return Math.max(100, Math.min(CLAIM_REFRESH_MAX_MILLIS, Math.floor(staleAfterMillis / 4)));
}
