// How far a recovery got, kept in the writer directory it claimed, so that a recovery that
// is stopped — its attempts ran out and it gave the journal back, or the application it
// runs in was killed — resumes there instead of exporting again everything it had already
// committed (issue #9: tens of seconds redone at every restart for a 550 MiB journal).
//
// The position: just past the last END or LOG a batch holds. Recovery hands them to
// batches in journal order, so every END and LOG before it is in that batch or an earlier
// one. (Not the `until` of the group it was read in: a batch fills up in the middle of a
// 64 KiB group, and the rest of the group goes into the next batch.) Up to 4 batches are
// in flight and commit out of order: the position kept is that of the last batch of the
// unbroken run of committed batches from the first, so a batch that failed holds it
// whatever commits after. Every END and LOG before it is committed by the same rule as
// the writer's own COMMIT watermark (`isCommitted`); readJournalFacts takes the later of
// the two. Crash records do not move it: a rerun reads every still-open START again anyway
// (pass 2 starts at the earliest), and their upserts are idempotent.
//
// The file, `{"v":1,"segment":S,"offset":O}`, is written under a temporary name and renamed
// over, so a reader finds the old position or the new one, whole. Not fsync'ed: after a
// power loss an old, empty or torn file means work done again, never a record skipped (a
// file that cannot be used is ignored). Never appended to a segment: a mapped segment ends
// in a preallocated zero tail, and bytes after zeros read as damage.
import { safeDiag } from '../safeDiag.js';
import { chmod, rename, rm, writeFile } from '../untracedFsPromises.js';
import { join } from 'node:path';
import { RECOVERY_PROGRESS_FILE, RECOVERY_PROGRESS_TEMP_FILE } from '../journal/journalPaths.js';
import { openRegularFile } from '../journal/regularFile.js';
import { laterOf } from '../journal/JournalPosition.js';
import type { JournalPosition } from '../journal/JournalPosition.js';

const FORMAT_VERSION = 1;
/** Ours are ~40 bytes; a larger file is not ours and is not read. */
const MAX_FILE_BYTES = 4096;

/**
 * Saved at most once a second, and at once the first time: a recovery killed at any moment
 * redoes at most about a second of exports (plus the batches in flight), and the cost stays
 * one small write and rename a second however small the batches (at 17,100 spans/s and 512
 * spans a batch, a write per batch would be 33 a second). The first position is saved as
 * soon as it exists, so even an application that dies within a second of every start
 * (crash-looping) gets further at each start.
 */
const SAVE_INTERVAL_MILLIS = 1000;

/** A batch handed to the exporter. */
export interface SentBatch {
  /** Every END and LOG before it is in this batch or an earlier one; undefined while none is. */
  readonly covers: JournalPosition | undefined;
  committed: boolean;
}

export class RecoveryProgress {
  readonly #dir: string;
  /** Batches sent and not yet part of the committed run, oldest first. */
  readonly #unsettled: SentBatch[] = [];
  /** Every END and LOG before it has committed. */
  #committed: JournalPosition | undefined;
  #saved: JournalPosition | undefined;
  #lastSaveMs = Number.NEGATIVE_INFINITY;
  #saving: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #warned = false;

  /** `dir`: the claimed writer directory; `from`: the watermark its recovery started at. */
  constructor(dir: string, from: JournalPosition | undefined) {
    this.#dir = dir;
    this.#committed = from;
    this.#saved = from;
  }

  sent(covers: JournalPosition | undefined): SentBatch {
    const batch: SentBatch = { covers, committed: false };
    this.#unsettled.push(batch);
    return batch;
  }

  committed(batch: SentBatch): void {
    batch.committed = true;
    while (this.#unsettled[0]?.committed) this.#committed = laterOf(this.#committed, this.#unsettled.shift()!.covers);
    this.#schedule();
  }

  /**
   * Stops saving, after the save in progress. With `save` (the journal is given back), the
   * position reached is saved first; without (the journal is about to be removed), not.
   */
  async stop(save: boolean): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#saving;
    if (save && this.#moved()) await this.#save();
  }

  #moved(): boolean {
    // Moved when the committed position is strictly later than the one saved.
    return laterOf(this.#saved, this.#committed) !== this.#saved;
  }

  #schedule(): void {
    if (this.#stopped || this.#saving !== undefined || this.#timer !== undefined || !this.#moved()) return;
    const wait = this.#lastSaveMs + SAVE_INTERVAL_MILLIS - performance.now();
    if (wait > 0) {
      // Unref'd: never what keeps a process alive; stop() saves what is left.
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, wait).unref();
      return;
    }
    this.#saving = this.#save().finally(() => {
      this.#saving = undefined;
      this.#schedule();
    });
  }

  async #save(): Promise<void> {
    const at = this.#committed!;
    this.#lastSaveMs = performance.now();
    const temp = join(this.#dir, RECOVERY_PROGRESS_TEMP_FILE);
    try {
      await writeFile(temp, `${JSON.stringify({ v: FORMAT_VERSION, segment: at.segment, offset: at.offset })}\n`, { mode: 0o600 });
      // 0600 whatever the umask (ownerOnly.ts); refused by the filesystem, it stays as made.
      await chmod(temp, 0o600).catch(() => {});
      await rename(temp, join(this.#dir, RECOVERY_PROGRESS_FILE));
      this.#saved = at;
    } catch (error) {
      // It only saves work: the recovery goes on, and a rerun would redo more.
      if (this.#warned) return;
      this.#warned = true;
      safeDiag.warn(
        `otel-blackbox: cannot save recovery progress in ${this.#dir}: ${(error as Error).message}; ` +
          `if this recovery is stopped, the next one starts again from the last position saved`,
      );
    }
  }
}

function positionIn(text: string, segmentBytes: ReadonlyMap<number, number>): JournalPosition | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof value !== 'object' || value === null) return 'not a progress record';
  const { v, segment, offset } = value as Record<string, unknown>;
  if (v !== FORMAT_VERSION) return `format version ${JSON.stringify(v)}, expected ${FORMAT_VERSION}`;
  if (!Number.isSafeInteger(segment) || !Number.isSafeInteger(offset) || (offset as number) < 0) return 'no valid position';
  const size = segmentBytes.get(segment as number);
  if (size === undefined || (offset as number) > size) return `segment ${segment} offset ${offset} is not in this journal`;
  return { segment: segment as number, offset: offset as number };
}

/**
 * Where an earlier recovery of the journal in `dir` (a claimed directory) stopped, or
 * undefined. `segmentBytes`: the journal's segments and their sizes; a position outside
 * them is not this journal's. A file that cannot be used is reported and removed (left, it
 * would be reported again at every retry): recovery then starts from the writer's own
 * watermark, exporting again what may have committed, which the upserts make harmless.
 */
export async function readRecoveryProgress(dir: string, segmentBytes: ReadonlyMap<number, number>): Promise<JournalPosition | undefined> {
  const path = join(dir, RECOVERY_PROGRESS_FILE);
  let problem: string;
  try {
    const { file, size } = await openRegularFile(path);
    try {
      if (size > MAX_FILE_BYTES) problem = `${size} bytes, not a progress record`;
      else {
        const position = positionIn(await file.readFile('utf8'), segmentBytes);
        if (typeof position !== 'string') return position;
        problem = position;
      }
    } finally {
      await file.close().catch(() => {});
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    problem = (error as Error).message;
  }
  safeDiag.warn(`otel-blackbox: recovery progress file ${path} ignored (${problem}): recovering from the writer's own commit watermark`);
  await rm(path, { force: true }).catch(() => {});
  return undefined;
}
