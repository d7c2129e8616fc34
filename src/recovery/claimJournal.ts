// Claiming a dead writer's directory is one rename, and the new name says who claimed it
// (pid, process start time, host, boot): of two processes that try at once exactly one
// succeeds, and a claimer that dies mid-recovery is seen dead by the same rules as any
// writer. Its claim is then taken over with another rename; replays are idempotent, so
// the second recovery writes the same rows.
import { rename } from 'node:fs/promises';
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
