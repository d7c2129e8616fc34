// Who may have written into a journal directory. Spans carry user data and recovery sends
// them to a database under the recovering process's credentials, so a journal another user
// could have planted (a group- or world-writable journalDir, or one owned by someone else)
// is not trusted blindly: root once recovered a journal owned by `nobody` (issue #12).
import { safeDiag } from '../safeDiag.js';
import type { Stats } from 'node:fs';
import { stat } from '../untracedFsPromises.js';

const warnedDirs = new Set<string>();

/** The current user's id, or undefined where there are no POSIX users (Windows). */
export function currentUid(): number | undefined {
  return process.getuid?.();
}

/** Whether a file or directory belongs to another user than this process's. */
export function ownedByAnotherUser(stats: Pick<Stats, 'uid'>, uid = currentUid()): boolean {
  return uid !== undefined && stats.uid !== uid;
}

/** Why a journal directory is unsafe, or undefined when only its owner can write into it. */
export function journalDirRisk(stats: Pick<Stats, 'uid' | 'mode'>, uid = currentUid()): string | undefined {
  if (uid === undefined) return undefined;
  const risks: string[] = [];
  if (stats.uid !== uid) risks.push(`is owned by uid ${stats.uid}, not ${uid}`);
  if (stats.mode & 0o020) risks.push('is group-writable');
  if (stats.mode & 0o002) risks.push('is world-writable');
  return risks.length > 0 ? risks.join(' and ') : undefined;
}

/**
 * Warns through diag, once per directory and process, when other users can write into
 * journalDir; `recoversForeign`: this recovery takes their journals too (recoverForeignJournals).
 */
export async function warnAboutJournalDir(journalDir: string, recoversForeign: boolean): Promise<void> {
  if (warnedDirs.has(journalDir)) return;
  let risk: string | undefined;
  try {
    risk = journalDirRisk(await stat(journalDir));
  } catch {
    return; // Missing: nothing to recover from, and the writer creates it 0700.
  }
  if (risk === undefined) return;
  warnedDirs.add(journalDir);
  safeDiag.warn(
    `otel-blackbox: journal directory ${journalDir} ${risk}: other users may plant journals in it. ` +
      (recoversForeign
        ? 'recoverForeignJournals is set: journals owned by another user are recovered too; '
        : 'Journals owned by another user are not recovered unless recoverForeignJournals is set; ') +
      `make the directory 0700 and owned by this user.`,
  );
}

/** Warns through diag, once per journal and process, that a foreign journal was left alone. */
export function warnAboutForeignJournal(dir: string, ownerUid: number): void {
  if (warnedDirs.has(dir)) return;
  warnedDirs.add(dir);
  safeDiag.warn(
    `otel-blackbox: not recovering ${dir}: it is owned by uid ${ownerUid}, not by this process's user ${currentUid()}. ` +
      `Set recoverForeignJournals (CLI: --recover-foreign-journals) to recover it anyway.`,
  );
}
