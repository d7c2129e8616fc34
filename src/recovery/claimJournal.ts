// Claiming a dead writer's directory is one rename: of two processes that try at once,
// exactly one succeeds. The claim names its claimer; a claim whose claimer died (a crash
// during recovery) is claimed again the same way, and since replays are idempotent the
// second recovery writes the same rows.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { claimedDirName, parseClaimedDirName } from '../journal/journalPaths.js';
import type { WriterIdentity } from '../journal/writerIdentity.js';

const CLAIM_FILE = 'claim.json';

/** Renames `journalDir/<name>` to a claim by `claimer`; undefined when someone else won. */
export async function claimDirectory(journalDir: string, name: string, claimer: WriterIdentity): Promise<string | undefined> {
  const writerId = parseClaimedDirName(name)?.writerId ?? name;
  const claimed = join(journalDir, claimedDirName(writerId, claimer.writerId));
  try {
    await rename(join(journalDir, name), claimed);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTEMPTY' || code === 'EEXIST') return undefined;
    throw error;
  }
  await writeFile(join(claimed, CLAIM_FILE), JSON.stringify({ ...claimer, claimedMs: Date.now() }), { mode: 0o600 });
  return claimed;
}

/** Who claimed a directory, if the claim file made it to disk. */
export async function readClaim(claimedDir: string): Promise<(WriterIdentity & { claimedMs: number }) | undefined> {
  try {
    return JSON.parse(await readFile(join(claimedDir, CLAIM_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Gives a claim back (recovery could not finish, e.g. the database is down). */
export async function releaseClaim(journalDir: string, claimedDir: string): Promise<void> {
  const name = claimedDir.slice(journalDir.length + 1);
  const parsed = parseClaimedDirName(name);
  if (!parsed) return;
  try {
    await rename(claimedDir, join(journalDir, parsed.writerId));
  } catch {
    // Left claimed: once this process is gone, the claim is stale and taken over.
  }
}
