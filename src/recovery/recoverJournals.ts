// Recovers the journals of dead writers in a directory: every span that ended but was not
// committed is exported as it was, every span that started and never ended is exported as
// a crash record. Used in the background by JournalSpanProcessor at start, and on demand
// by `otel-blackbox recover`.
import { safeDiag } from '../safeDiag.js';
import { TurnBudget } from '../TurnBudget.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { readdir, rename, rm, stat } from '../untracedFsPromises.js';
import { basename, dirname, join, resolve } from 'node:path';
import type { LogRecordExporter } from '../logRecordTypes.js';
import { readableLogFromRecord } from '../journal/logRecords.js';
import { describeTarget, exportTarget, recoversFor } from '../export/exportDestination.js';
import { DeadLetterFile } from '../export/DeadLetterFile.js';
import { Delivery, exportWithLogs } from '../export/exportWithLogs.js';
import { storesInPostgres, type KeyedLogRecord } from '../export/SpansAndLogs.js';
import { limitExportCallsOfOthers } from '../export/exportGate.js';
import { claimLockFileName, isRecoveredDirName, isWriterDirName, parseClaimedDirName, recoveredDirName } from '../journal/journalPaths.js';
import { holdClaimLock, probeClaimLock } from '../journal/livenessLocks.js';
import type { JournalPosition } from '../journal/JournalPosition.js';
import { readableSpanFromRecord } from '../journal/readableSpanFromRecord.js';
import { currentWriterIdentity } from '../journal/writerIdentity.js';
import type { WriterIdentity } from '../journal/writerIdentity.js';
import { ENV, RECOVERY_DEFAULTS as D } from '../options/defaults.js';
import { envJournalDir, envMillis } from '../options/environment.js';
import { booleanOption, exporterOption, InvalidOptionError, knownOptionsOnly, millis, directoryPath, optionalAbortSignal, optionalFunction, optionalLogExporter, positiveInteger } from '../options/validate.js';
import { retryWithBackoff } from '../export/exportWithRetry.js';
import { PayloadBuffers, SpanPayloads, SpanPayloadsBuilder, type SpanFromRecord } from '../journal/SpanPayloads.js';
import { MAX_BATCH_CHARS } from '../journal/JournalBatch.js';
import { claimDirectory, keepClaimFresh, releaseClaim } from './claimJournal.js';
import { ownedByAnotherUser, warnAboutForeignJournal, warnAboutJournalDir } from './journalOwnership.js';
import { crashReason, crashRecord } from './crashRecords.js';
import { probeWriter, type WriterProbe } from './probeWriter.js';
import { readJournalFacts, readRecoverableSpans } from './readWriterJournal.js';
import { RecoveryProgress } from './RecoveryProgress.js';
import { ResourcesOnDisk } from './ResourcesOnDisk.js';
import { checkedSpanRecord } from './spanRecordShape.js';
import { claimerLiveness, writerLiveness } from './livenessFacts.js';

export interface RecoverJournalsOptions {
  /** The journal directory to scan. Default `OTEL_BLACKBOX_JOURNAL_DIR`, else `'.otel-journal'` (as the processor). */
  journalDir?: string | undefined;
  /**
   * Where recovered spans go. Required. A journal written for another destination (its
   * writer's exporter named one, as `PostgresSpanExporter.destination`, and this one names
   * another or none; or its writer's named none, and this one names one) is left alone and
   * counted in `otherDestinationJournals`.
   */
  exporter: SpanExporter;
  /** Where a writer's process cannot be checked (another host), silence this long means dead. Default 300000 ms. */
  staleAfterMillis?: number | undefined;
  /** Spans per export() call. Default 512, as the processor's. */
  maxExportBatchSize?: number | undefined;
  /**
   * Batches exported at once. Default: up to 4 behind PostgresSpanExporter; 1 behind any
   * other exporter, whose export() the SpanExporter contract says is never called
   * concurrently. Given or not, no more than hold 4096 spans (fewer for large batches).
   */
  maxConcurrentExports?: number | undefined;
  /** One export() may take this long. Default `OTEL_BSP_EXPORT_TIMEOUT`, else 30000 ms (as PostgresSpanExporter's). */
  exportTimeoutMillis?: number | undefined;
  /** Attempts per batch before the journal is given back for a later recovery. Default 5; `Infinity` retries until `signal` aborts. */
  maxAttempts?: number | undefined;
  /**
   * Recover journals (writer directories) owned by another user too. Default false: they
   * are left alone and counted in `foreignJournals`, since another user may have planted
   * them. Set it when, say, root recovers the journals of a service's own user.
   */
  recoverForeignJournals?: boolean | undefined;
  /**
   * Recover journals written for another destination too (another database or schema;
   * an exporter that names none, when this one names one), into this exporter. Default
   * false. Set it when that destination is gone for good, or its name changed (a new host
   * name for the same database).
   */
  recoverAnyDestination?: boolean | undefined;
  /** Called after each journal, e.g. for a progress line. */
  onJournal?: ((progress: JournalRecoveryProgress) => void) | undefined;
  /**
   * Called as each batch commits, with what it held: progress within a journal, which may
   * take minutes (a long outage's backlog). What a later attempt sends again is reported
   * again: the batches after the one that failed, and every crash record (idempotent
   * upserts, sent again by a recovery that resumes).
   */
  onBatch?: ((committed: RecoveredBatch) => void) | undefined;
  /**
   * Judge every journal and report what a recovery would do with each (`verdicts`), without
   * claiming, exporting or removing anything. Default false.
   */
  dryRun?: boolean | undefined;
  /** Stops recovery: no export starts once it aborts, and the journal in hand is given back for a later run. */
  signal?: AbortSignal | undefined;
  /** Where recovered log records go when `exporter` cannot take them with spans (see JournalSpanProcessor's `logExporter`). */
  logExporter?: LogRecordExporter | undefined;
  /** @internal The recovering processor's own identity, so it never claims its own journal. */
  claimer?: WriterIdentity;
  /** @internal Told of each failed export attempt: the recovering processor counts it in stats().exportFailures. */
  onAttemptFailed?: (error: Error) => void;
}

export interface JournalRecoveryProgress {
  dir: string;
  spansEnded: number;
  spansCrashed: number;
  outcome: 'recovered' | 'failed';
  error?: string;
}

export interface RecoveredBatch {
  spansEnded: number;
  spansCrashed: number;
  logRecords: number;
  /** Records of the batch refused for good (RecoveryReport.deadLettered), counted in none of the above. */
  deadLettered: number;
}

/** What a batch holds, by kind, before it is sent. */
type BatchHolds = Omit<RecoveredBatch, 'deadLettered'>;

/** What a recovery does with a journal: `dead` ones are recovered, the others left alone. */
export type JournalVerdict = 'dead' | 'alive' | 'foreign' | 'newer' | 'other-destination' | 'unreadable';

export interface RecoveryReport {
  /** Dead writers' journals recovered and removed. */
  journals: number;
  segments: number;
  /**
   * Ended spans and crash records committed, in journals recovered or not (a recovery
   * stopped by a failure counts the batches that committed), without those the exporter
   * refused for good (`deadLettered`, or PostgresSpanExporter's dead_letters table).
   */
  spansEnded: number;
  spansCrashed: number;
  /** Log records exported with the spans (those the writer had not committed), counted alike. */
  logRecords: number;
  /** Bytes of damaged records skipped, and of torn final records. */
  corruptBytes: number;
  tornBytes: number;
  /** Journals left alone because their writer is alive (or was claimed by another live process). */
  liveJournals: number;
  /** Journals of dead writers left alone because another user owns them (see `recoverForeignJournals`). */
  foreignJournals: number;
  /** Journals left alone because a newer otel-blackbox wrote them (a newer journal format): for it to recover. */
  newerJournals: number;
  /**
   * Journals of dead writers left alone because they exported elsewhere (another database
   * or schema, as `PostgresSpanExporter.destination` names it; through an exporter that
   * names no destination, when this recovery's names one): for a process exporting there
   * (see `recoverAnyDestination`).
   */
  otherDestinationJournals: number;
  /**
   * Journals that could not be read to be judged (EACCES, EIO: not another user's, which
   * count as foreign): alive or dead, nobody can tell; said through diag. A recovery run as
   * their owner (or root with recoverForeignJournals) recovers them.
   */
  unreadableJournals: number;
  failures: { dir: string; error: string }[];
  /**
   * Spans and log records the exporter refused for good, the rest of their batch exported:
   * kept in the exporter's own store (PostgresSpanExporter's dead_letters table), or, for an
   * exporter without one (an OTLP 400 or 413), written to `<journalDir>/dead-letters.jsonl`
   * with the reason.
   */
  deadLettered: number;
  /**
   * With `dryRun`: each journal and what a recovery would do with it; for `alive` and
   * `dead`, why its writer (or the recoverer that claimed it) was judged so (`pid 4242 no
   * longer runs`, `a process holds its journal lock`).
   */
  verdicts?: { dir: string; verdict: JournalVerdict; why?: string }[];
}

/** The report's count of the journals each verdict but `dead` leaves alone. */
const LEFT_ALONE_COUNT = {
  alive: 'liveJournals',
  newer: 'newerJournals',
  foreign: 'foreignJournals',
  'other-destination': 'otherDestinationJournals',
  unreadable: 'unreadableJournals',
} as const satisfies Record<Exclude<JournalVerdict, 'dead'>, keyof RecoveryReport>;

/** Every option's name. `satisfies` makes a name added to the interface and not here a compile error. */
const OPTION_NAMES = Object.keys({
  journalDir: 1, exporter: 1, staleAfterMillis: 1, maxExportBatchSize: 1, maxConcurrentExports: 1, exportTimeoutMillis: 1, maxAttempts: 1, recoverForeignJournals: 1, recoverAnyDestination: 1,
  onJournal: 1, onBatch: 1, dryRun: 1, signal: 1, logExporter: 1, claimer: 1, onAttemptFailed: 1,
} satisfies Record<keyof RecoverJournalsOptions, 1>);

export async function recoverJournals(options: RecoverJournalsOptions): Promise<RecoveryReport> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least `exporter`', options);
  }
  knownOptionsOnly('recoverJournals', options, OPTION_NAMES);
  const onJournal = optionalFunction('onJournal', options.onJournal);
  // Absolute: a process.chdir() while recovery runs must not move it.
  const journalDir = resolve(directoryPath('journalDir', options.journalDir, envJournalDir() ?? D.journalDir));
  const exporter = exporterOption('exporter', options.exporter, 'a SpanExporter');
  const batchSize = positiveInteger('maxExportBatchSize', options.maxExportBatchSize, D.maxExportBatchSize);
  const settings = {
    staleAfterMillis: millis('staleAfterMillis', options.staleAfterMillis, D.staleAfterMillis, 1),
    batchSize,
    // Given or not, no more than batchesInFlight: inside an application with a small heap,
    // the batches in flight are what recovery holds.
    maxConcurrentExports: Math.min(
      batchesInFlight(batchSize),
      positiveInteger('maxConcurrentExports', options.maxConcurrentExports, storesInPostgres(exporter) ? D.maxConcurrentExports : D.maxConcurrentExportsElsewhere),
    ),
    // As PostgresSpanExporter's: the processor's variable, read quietly (the processor says
    // a bad one). Set there, the exporter held a batch longer than recovery waited for it.
    exportTimeoutMillis: millis('exportTimeoutMillis', options.exportTimeoutMillis, envMillis(ENV.exportTimeoutMillis, 1, false) ?? D.exportTimeoutMillis, 1),
    maxAttempts: attemptsOption(options.maxAttempts),
    recoverForeignJournals: booleanOption('recoverForeignJournals', options.recoverForeignJournals, D.recoverForeignJournals),
    recoverAnyDestination: booleanOption('recoverAnyDestination', options.recoverAnyDestination, D.recoverAnyDestination),
    target: exportTarget(exporter),
    signal: optionalAbortSignal('signal', options.signal),
    logExporter: optionalLogExporter(options.logExporter),
    onBatch: optionalFunction('onBatch', options.onBatch),
    dryRun: booleanOption('dryRun', options.dryRun, false),
    deadLetters: new DeadLetterFile(journalDir),
    onAttemptFailed: options.onAttemptFailed,
  };
  // One call at a time together with whatever else calls this exporter (exportGate.ts);
  // inside a processor, its own limit stays.
  limitExportCallsOfOthers(exporter, settings.logExporter, settings.maxConcurrentExports);
  const claimer = options.claimer ?? currentWriterIdentity();
  const report: RecoveryReport = {
    journals: 0, segments: 0, spansEnded: 0, spansCrashed: 0, logRecords: 0, corruptBytes: 0, tornBytes: 0, liveJournals: 0, foreignJournals: 0, newerJournals: 0, otherDestinationJournals: 0, unreadableJournals: 0, failures: [],
    deadLettered: 0,
  };
  const verdicts: NonNullable<RecoveryReport['verdicts']> = [];
  if (settings.dryRun) report.verdicts = verdicts;
  let names: string[];
  try {
    names = (await readdir(journalDir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return report;
    throw error;
  }
  await warnAboutJournalDir(journalDir, settings.recoverForeignJournals);
  // A journal left alone counts in its report field; with dryRun, every verdict is listed.
  const judged = (dir: string, verdict: JournalVerdict, why?: string): void => {
    if (verdict !== 'dead') report[LEFT_ALONE_COUNT[verdict]] += 1;
    if (settings.dryRun) verdicts.push({ dir, verdict, why });
  };
  // What the claim needs of each verdict, not the probe itself: a crash loop may leave
  // thousands of journals, and their headers need not all be held at once.
  const dead: { name: string; dir: string; segments: number; formatChecked: boolean; judgedAt: number }[] = [];
  for (const name of names) {
    if (settings.signal?.aborted) break;
    if (name === claimer.writerId) continue;
    if (isRecoveredDirName(name)) {
      // Left by a recoverer killed while removing what it had recovered: already exported.
      if (settings.dryRun) continue;
      await rm(join(journalDir, name), { recursive: true, force: true }).catch(() => {});
      continue;
    }
    const dir = join(journalDir, name);
    const verdict = await judgeJournal(dir, name, claimer, settings.staleAfterMillis);
    if (verdict === undefined) continue;
    if ('alive' in verdict) {
      judged(dir, 'alive', verdict.alive);
      continue;
    }
    if ('unreadable' in verdict) {
      // Another user's journal is theirs, whatever could be read of it; any other is said.
      if (!settings.recoverForeignJournals && (await isForeign(dir))) judged(dir, 'foreign');
      else {
        judged(dir, 'unreadable');
        warnOnce(dir, `otel-blackbox: cannot tell whether the writer of ${dir} is alive, so it is not recovered: ${verdict.unreadable.message}. A recovery run as its owner (or as root with recoverForeignJournals) recovers it.`);
      }
      continue;
    }
    const { probe } = verdict;
    if (probe?.newerFormat !== undefined) {
      judged(dir, 'newer');
      warnOnce(dir, `otel-blackbox: not recovering ${dir}: a newer otel-blackbox wrote it (${probe.newerFormat}); this one cannot read it. Upgrade, or let the newer one recover it.`);
      continue;
    }
    if (!settings.recoverForeignJournals && (await isForeign(dir))) {
      judged(dir, 'foreign');
      continue;
    }
    const header = probe?.header;
    if (!settings.recoverAnyDestination && !recoversFor(header, settings.target)) {
      judged(dir, 'other-destination');
      warnOnce(
        dir,
        `otel-blackbox: not recovering ${dir}: its writer exported to ${describeTarget(header ?? {})}, and this recovery exports to ` +
          `${describeTarget(settings.target)}. A process exporting there recovers it (or otel-blackbox recover with that database ` +
          `and schema; recoverAnyDestination, or recover --recover-any-destination, sends it here).`,
      );
      continue;
    }
    judged(dir, 'dead', verdict.dead);
    dead.push({ name, dir, segments: probe?.segments ?? 0, formatChecked: probe !== undefined, judgedAt: performance.now() });
  }
  if (settings.dryRun) return report;
  // Smallest first (by segments: they are preallocated, so their bytes say nothing), then
  // in name order, which is start order. In a crash loop after a long outage, each restart
  // finds the outage's large journal and the small ones the loop left, whose crash records
  // say why it loops: taken in name order, the large one came first, and a restart that
  // died while recovering it never reached them.
  dead.sort((a, b) => a.segments - b.segments || (a.name < b.name ? -1 : 1));
  for (const { name, dir, formatChecked, judgedAt } of dead) {
    if (settings.signal?.aborted) break;
    // Judged again when the journals before it took a while: a writer judged by its silence
    // (another host, another container) is claimed only on a verdict as fresh as before.
    if (performance.now() - judgedAt > FRESH_VERDICT_MILLIS) {
      const again = await judgeJournal(dir, name, claimer, settings.staleAfterMillis);
      if (again === undefined) continue;
      // Never a dry run here (it returned above): no verdict is listed, only counted.
      if ('alive' in again || 'unreadable' in again) {
        judged(dir, 'alive' in again ? 'alive' : 'unreadable');
        continue;
      }
    }
    const failed = (error: unknown): void => {
      const message = (error as Error).message;
      report.failures.push({ dir, error: message });
      callerCallback(onJournal, { dir, spansEnded: 0, spansCrashed: 0, outcome: 'failed', error: message });
      // Stopped by its signal (a shutdown), the journal waits for the next start: no error.
      if (settings.signal?.aborted) safeDiag.warn(`otel-blackbox: recovery of ${dir} stopped; it resumes at the next scan: ${message}`);
      // "Tried again later" was only true inside a processor (it scans once a minute): the CLI
      // and a direct call end here, and the journal waits for whichever recovery comes next.
      else safeDiag.error(`otel-blackbox: recovery of ${dir} failed; the next recovery (the processor's scan, or recover run again) resumes it: ${message}`);
    };
    // Locked before the rename that claims it: no one sees the claim without its lock.
    const held = holdClaimLock(dir, claimer.writerId);
    if (held !== 'unsupported' && 'failed' in held) {
      // Gone (ENOENT): another recovery claimed it first. Else tried again at the next scan
      // and said each time, as a failure (a read-only mount, EACCES, EMFILE), so a dead
      // journal is never passed over in silence.
      if (held.failed.code !== 'ENOENT') failed(new Error(`its claim lock ${claimLockFileName(claimer.writerId)} could not be taken: ${held.failed.message}`));
      continue;
    }
    const claimLock = held === 'unsupported' ? undefined : held;
    // A claim the file system refuses (EPERM, EBUSY, a name too long) fails this journal
    // alone: the others in the directory are still recovered, at every scan.
    const claimed = await claimDirectory(journalDir, name, claimer).catch((error: unknown) => void failed(error));
    if (!claimed) {
      // Lost the race: the lock file went with the directory to its winner, free; a later
      // claim by this claimer renames a locked one over it before it claims.
      claimLock?.release();
      continue;
    }
    const stopKeepingFresh = keepClaimFresh(claimed, settings.staleAfterMillis);
    try {
      await recoverOne(claimed, dir, formatChecked, exporter, settings, report, onJournal);
    } catch (error) {
      failed(error);
      await rm(join(claimed, claimLockFileName(claimer.writerId)), { force: true }).catch(() => {});
      await releaseClaim(journalDir, claimed);
    } finally {
      stopKeepingFresh();
      claimLock?.release();
    }
  }
  report.deadLettered += settings.deadLetters.written;
  return report;
}

/** How old a verdict of death may be when its journal is claimed (see above). */
const FRESH_VERDICT_MILLIS = 1000;

/** Renamed out of every scan in one step, then removed (see recoveredDirName). */
async function removeRecovered(dir: string): Promise<void> {
  const gone = join(dirname(dir), recoveredDirName());
  try {
    await rename(dir, gone);
  } catch {
    // Not renamed (a file system that refuses): removed where it is, as before.
    await rm(dir, { recursive: true, force: true });
    return;
  }
  await rm(gone, { recursive: true, force: true });
}

async function isForeign(dir: string): Promise<boolean> {
  try {
    const stats = await stat(dir);
    if (!ownedByAnotherUser(stats)) return false;
    warnAboutForeignJournal(dir, stats.uid);
    return true;
  } catch {
    return false; // Vanished: claimDirectory will find it gone.
  }
}

/** Journals already said to be of a newer format, so each is said once per process. */
const warned = new Set<string>();

function warnOnce(dir: string, message: string): void {
  if (warned.has(dir)) return;
  warned.add(dir);
  safeDiag.warn(message);
}

/**
 * `{ alive }`: leave it, and why. `{ probe, dead }`: its writer (or the recoverer that
 * claimed it) is dead, and why; the probe of its segments, whose header says who wrote it,
 * in which format and for which destination, is read once here (undefined: a claim whose
 * segments could not be read, which recoverOne tries again and reports; no `dead` for a
 * newer format, left alone unjudged). `{ unreadable }`: it could not be read to be judged
 * (EACCES, EIO). undefined: not a journal, or gone.
 */
async function judgeJournal(
  dir: string,
  name: string,
  claimer: WriterIdentity,
  staleAfterMillis: number,
): Promise<{ alive: string } | { probe: WriterProbe | undefined; dead?: string } | { unreadable: Error } | undefined> {
  try {
    if (isWriterDirName(name)) {
      const probe = await probeWriter(dir);
      // A newer format is left alone, alive or dead.
      if (probe.newerFormat !== undefined) return { probe };
      const { alive, why } = writerLiveness({ header: probe.header, lock: probe.lock, lastSignOfLifeMs: probe.lastModifiedMs, staleAfterMillis });
      return alive ? { alive: why } : { probe, dead: why };
    }
    const claim = parseClaimedDirName(name);
    if (claim) {
      // Our own claim, left by an earlier scan whose give-back rename failed: judged by its
      // claimer, it looked alive (it is us) until this process ended. Nothing of ours works
      // on it now (a recoverer scans one journal at a time), so it is taken up again.
      let dead = 'claimed by this process, which is not recovering it now';
      if (claim.claimerId !== claimer.writerId) {
        // The rename that made the claim set the directory's ctime, and so does each save of
        // the claimer's progress (RecoveryProgress.ts): a claimer that is working stays fresh.
        const { ctimeMs } = await stat(dir);
        const { alive, why } = claimerLiveness(claim, probeClaimLock(dir, claim.claimerId), ctimeMs, staleAfterMillis);
        if (alive) return { alive: `claimed by a recovery: ${why}` };
        dead = `claimed by a recovery: ${why}`;
      }
      return { probe: await probeWriter(dir).catch(() => undefined), dead };
    }
  } catch (error) {
    // Vanished while we looked: another process recovered or removed it.
    // A file where a journal's directory would be (ENOTDIR) is no journal.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return { unreadable: error instanceof Error ? error : new Error(String(error)) };
  }
  return undefined;
}

interface RecoverySettings {
  logExporter: LogRecordExporter | undefined;
  batchSize: number;
  maxConcurrentExports: number;
  exportTimeoutMillis: number;
  maxAttempts: number;
  signal: AbortSignal | undefined;
  onBatch: RecoverJournalsOptions['onBatch'];
  onAttemptFailed: RecoverJournalsOptions['onAttemptFailed'];
  /** When a failed attempt was last said, for this whole recovery (see exportWithAttempts). */
  retrySaid?: { atMs: number };
  deadLetters: DeadLetterFile;
}

/** How often a recovery that keeps failing says so. */
const RETRY_SAID_EVERY_MILLIS = 60_000;

/**
 * Export batches in flight at once: PostgreSQL commits one while the next are sent. Up to
 * 4 (D.maxConcurrentExports), as bench/exporter-throughput.mjs measures the exporter at
 * (48,700 spans/s against 33,900 with one in flight), and up to D.maxSpansInFlight spans,
 * whatever was asked: inside an application with a small heap, 4 batches of 2048 spans kept
 * ~40 MB alive, and the collector's full pauses grew with them (bench/recovery.mjs:
 * event-loop stalls of 60–90 ms, against 40–60 with 2 in flight, at the same rate). The
 * default 512-span batches get all 4. An exporter that is not ours gets one at a time by
 * default, as the SpanExporter contract has it (storesInPostgres).
 */
/** Batches of `batchSize` spans that hold at most D.maxSpansInFlight spans (one at least). */
function batchesInFlight(batchSize: number): number {
  return Math.max(1, Math.floor(D.maxSpansInFlight / batchSize));
}

/** What a span record of a recovery batch was added as (SpanPayloads tags). */
const ENDED = 0;
const CRASHED = 1;

/**
 * Streams one claimed journal into the exporter (see readWriterJournal.ts): memory holds a
 * read chunk, the batches in flight, and one position per open span, whatever the
 * journal's size. A batch holds its span records' bytes (SpanPayloads) until it is sent,
 * and its spans are handed to the exporter once (exportWithAttempts; one that takes a span
 * maker lets them go before its database round trip): held as parsed spans through the
 * round trip, 4 batches in flight were copied by every scavenge and promoted
 * (bench/recovery.mjs: 141 MiB per 200,000 spans, 26 now).
 * Between chunks the reads are awaited, so a host's event loop runs. How far the committed
 * batches reach is saved in the directory (RecoveryProgress.ts), so a recovery that is
 * given back or killed resumes there.
 */
async function recoverOne(
  dir: string,
  /** The journal as the operator knows it (its name before the claim): what messages and onJournal name. */
  journal: string,
  formatChecked: boolean,
  exporter: SpanExporter,
  settings: RecoverySettings,
  report: RecoveryReport,
  onJournal: RecoverJournalsOptions['onJournal'],
): Promise<void> {
  // Read as this format, a newer one's records were damage: refused, given back whole. (Its
  // verdict's probe checked it, unless its segments could not be read then.)
  const newer = formatChecked ? undefined : (await probeWriter(dir)).newerFormat;
  if (newer !== undefined) throw new Error(`a newer otel-blackbox wrote it (${newer}); this one cannot read it`);
  const facts = await readJournalFacts(dir, settings.signal);
  // Said per journal, inside an application too (whose own line counts spans only): the
  // records in those bytes are lost. A torn final record is how a crash mid-write ends a
  // segment, not damage, and is only counted.
  if (facts.damagedBytes > 0) {
    safeDiag.error(`otel-blackbox: ${facts.damagedBytes} bytes of damaged records in ${journal} were skipped; any spans and log records they held are lost (a damaged commit or heartbeat record holds none)`);
  }
  const resources = new ResourcesOnDisk(dir, facts.resources);
  const resourceOf = (id: number) => resources.resourceOf(id);
  const reason = crashReason(facts);
  // Log records are keyed by the writer that journaled them, as its own export did, and its
  // crash records name it. The writer's id: from the claimed directory's name (which adds
  // the claimer, different at every recovery) only the writer's part, or a rerun after an
  // unreadable header stored every log record again under another key.
  const writerId = facts.header?.writerId ?? parseClaimedDirName(basename(dir))?.writerId ?? basename(dir);
  // A record of the wrong shape throws here, and is counted with those that do not parse.
  const spanOf: SpanFromRecord = (record, tag) =>
    tag === CRASHED
      ? crashRecord(checkedSpanRecord(record, false), facts, resourceOf(record.r), reason, writerId)
      : readableSpanFromRecord(checkedSpanRecord(record, true), resourceOf(record.r));
  let spansEnded = 0;
  let spansCrashed = 0;
  let logRecords = 0;
  const inFlight = new Set<Promise<void>>();
  const maxInFlight = settings.maxConcurrentExports;
  const buffers = new PayloadBuffers(maxInFlight + 1);
  let failure: unknown;
  const progress = new RecoveryProgress(dir, facts.watermark);
  const send = async (records: SpanPayloads, logs: KeyedLogRecord[], counts: BatchHolds, covers: JournalPosition | undefined): Promise<void> => {
    while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
    if (failure !== undefined) {
      records.release();
      throw failure;
    }
    const sent = progress.sent(covers);
    const exported: Promise<void> = exportWithAttempts(exporter, records, logs, settings, journal).then(
      (refused) => {
        inFlight.delete(exported);
        // Checksums held but the JSON did not parse, or is not a span record's shape (a
        // writer's bug, a crafted file): not recovered, said so.
        const unreadableEnds = records.unreadableWith(ENDED);
        const unreadableStarts = records.unreadableWith(CRASHED);
        const unreadable = unreadableEnds + unreadableStarts;
        if (unreadable > 0) safeDiag.error(`otel-blackbox: ${unreadable} span records in ${journal} could not be read (their checksum held, but their JSON does not parse or is not a span record's shape); they are lost`);
        progress.committed(sent);
        // The journal's totals are the sums of its committed batches, as onBatch reports them;
        // what the exporter refused for good is counted as dead letters, not recovered.
        const committed = {
          spansEnded: counts.spansEnded - unreadableEnds - refused.spansEnded,
          spansCrashed: counts.spansCrashed - unreadableStarts - refused.spansCrashed,
          logRecords: counts.logRecords - refused.logRecords,
          deadLettered: refused.deadLettered,
        };
        report.deadLettered += refused.byExporter;
        spansEnded += committed.spansEnded;
        spansCrashed += committed.spansCrashed;
        logRecords += committed.logRecords;
        callerCallback(settings.onBatch, committed);
      },
      (error: unknown) => {
        inFlight.delete(exported);
        failure ??= error;
      },
    );
    inFlight.add(exported);
  };
  let batch = new SpanPayloadsBuilder(buffers);
  const logs: KeyedLogRecord[] = [];
  let logBytes = 0;
  // In journal order, so every END and LOG before `covered` is in a batch already sent or
  // the one being filled.
  let covered: JournalPosition | undefined;
  let finished = false;
  // What the batch being filled holds, for onBatch.
  let inBatch: BatchHolds = { spansEnded: 0, spansCrashed: 0, logRecords: 0 };
  const flush = async (): Promise<void> => {
    const records = batch.build(spanOf);
    batch = new SpanPayloadsBuilder(buffers);
    logBytes = 0;
    const counts = inBatch;
    inBatch = { spansEnded: 0, spansCrashed: 0, logRecords: 0 };
    await send(records, logs.splice(0), counts, covered);
  };
  try {
    for await (const group of readRecoverableSpans(facts, settings.signal)) {
      for (const item of group.records) {
        if (item.kind === 'end') {
          batch.add(item.bytes, ENDED);
          inBatch.spansEnded += 1;
          covered = item.after;
        } else if (item.kind === 'open') {
          batch.add(item.bytes, CRASHED);
          inBatch.spansCrashed += 1;
        } else {
          // A log record whose crash record or END is not in its batch gets a 'started' row
          // from the exporter (PostgresSpanExporter), which that span's own row then replaces.
          // One the writer wrote in a shape no reader expects is lost, said, and passed: it
          // must not keep the rest of the journal from being recovered, at every scan.
          try {
            if (item.record === null) throw new Error('its checksum held but its JSON does not parse');
            // Its key in PostgreSQL (writer, sequence): bound as a bigint, anything else failed
            // the whole batch at every attempt, and no later journal was reached (an attack).
            if (!Number.isSafeInteger(item.record.q)) throw new Error(`its sequence ${String(JSON.stringify(item.record.q)).slice(0, 40)} is not a whole number`);
            logs.push({ logRecord: readableLogFromRecord(item.record, resourceOf(item.record.r)), writerId, sequence: item.record.q });
            inBatch.logRecords += 1;
            logBytes += item.bytes;
          } catch (error) {
            safeDiag.error(`otel-blackbox: a log record in ${journal} could not be read (${(error as Error)?.message ?? error}); it is lost`);
          }
          covered = item.after;
        }
        // Also by size, as the processor's batches are (MAX_BATCH_CHARS).
        if (batch.count + logs.length >= settings.batchSize || batch.bytes + logBytes >= MAX_BATCH_CHARS) await flush();
      }
    }
    if (batch.count + logs.length > 0) await flush();
    finished = true;
  } finally {
    // Never give a journal back with its exports still running; then keep what committed.
    await Promise.all(inFlight);
    resources.close();
    await progress.stop(!finished || failure !== undefined);
    // What committed counts, the journal finished or not: an interrupted recovery that had
    // stored thousands of rows reported none (an accounting review), and the next one,
    // resuming, counted only the rest.
    report.spansEnded += spansEnded;
    report.spansCrashed += spansCrashed;
    report.logRecords += logRecords;
  }
  if (failure !== undefined) throw failure;
  await removeRecovered(dir);
  report.journals += 1;
  report.segments += facts.segments.length;
  report.corruptBytes += facts.damagedBytes;
  report.tornBytes += facts.tornBytes;
  callerCallback(onJournal, { dir: journal, spansEnded, spansCrashed, outcome: 'recovered' });
}

/**
 * Exports one batch within the attempts allowed; resolves once it is committed. Its spans are parsed just before the first attempt and handed over
 * once: the exporter (if it takes a span maker) lets them go as rows, and a later attempt
 * parses them again.
 */
async function exportWithAttempts(exporter: SpanExporter, records: SpanPayloads, logs: KeyedLogRecord[], settings: RecoverySettings, dir: string): Promise<RefusedInBatch> {
  try {
    let ready: ReadableSpan[] | undefined = [];
    const turn = new TurnBudget();
    await records.parseInSlices(ready, () => turn.pace());
    const spans = (): ReadableSpan[] => {
      const made = ready ?? [];
      if (ready === undefined) records.parse(made);
      ready = undefined;
      return made;
    };
    const batchLogs = logs.length > 0 ? { logs, openSpans: [] } : undefined;
    // Behind a span exporter and a logExporter, a retry sends only the part not yet accepted.
    const delivery = new Delivery(settings.deadLetters);
    const attempt = () =>
      exportWithLogs(exporter, settings.logExporter, spans, records.count, batchLogs, settings.exportTimeoutMillis, settings.signal, delivery);
    const outcome = await retryWithBackoff(attempt, {
      maxAttempts: settings.maxAttempts,
      signal: settings.signal,
      // Said, or a batch refused for good would hold its journal's claim, and every later
      // scan's, in silence; but once a minute at most for the whole recovery: each batch in
      // flight said its first failure and every tenth, about 500 lines an hour while the
      // database was away (an operator review).
      onRetry: (error) => {
        callerCallback(settings.onAttemptFailed, error);
        const now = Date.now();
        if (settings.retrySaid !== undefined && now - settings.retrySaid.atMs < RETRY_SAID_EVERY_MILLIS) return;
        settings.retrySaid = { atMs: now };
        safeDiag.warn(
          `otel-blackbox: recovery of ${dir}, the journal of a dead process, could not export a batch; it tries again (said once a minute at most): ${(error as Error)?.message ?? String(error)}`,
        );
      },
      // The CLI awaits recovery: an unref'd backoff would let it exit mid-recovery. Bounded
      // attempts never hold a process for long; unbounded ones (inside an application, until
      // its shutdown aborts them) must never keep it alive.
      keepAlive: Number.isFinite(settings.maxAttempts),
    });
    if (!outcome.ok) throw outcome.error;
    return refusedIn(records, delivery);
  } finally {
    records.release();
  }
}

/** Of a committed batch, what was refused for good by kind, in all, and how much of that the exporter kept itself. */
interface RefusedInBatch extends RecoveredBatch {
  byExporter: number;
}

/**
 * What of a committed batch the exporter refused for good, by kind: kept in dead letters
 * (DeadLetterFile, or PostgresSpanExporter's table), not recovered. Counted as recovered,
 * a refused record was counted twice, in the recovery's counts and in the dead letters (an
 * accounting review). Positions past the batch's spans are 'started' rows exportWithLogs
 * added for log records, not spans of the journal.
 */
function refusedIn(records: SpanPayloads, delivery: Delivery): RefusedInBatch {
  const byExporter = delivery.refusedByExporter.count;
  const deadLettered = delivery.spans.deadLettered + delivery.logs.deadLettered + byExporter;
  const refused = { spansEnded: 0, spansCrashed: 0, logRecords: delivery.logs.deadLettered + delivery.refusedByExporter.logRecords, deadLettered, byExporter };
  const positions = [...delivery.spans.deadLetteredAt, ...delivery.refusedByExporter.spanPositions];
  if (positions.length === 0) return refused;
  const tags = records.parsedTags();
  for (const position of positions) {
    if (tags[position] === ENDED) refused.spansEnded += 1;
    else if (tags[position] === CRASHED) refused.spansCrashed += 1;
  }
  return refused;
}

/** A caller's progress callback: one that throws is said, and does not stop the recovery (whose batch has committed). */
function callerCallback<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch (error) {
    safeDiag.error('otel-blackbox: a recovery progress callback threw; recovery goes on', error);
  }
}

/** maxAttempts: a positive integer, or Infinity (retried until the signal aborts); the refusal names both. */
function attemptsOption(value: number | undefined): number {
  if (value === undefined) return D.maxAttempts;
  if (value === Number.POSITIVE_INFINITY || (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1)) return value;
  throw new InvalidOptionError('maxAttempts', 'a positive integer, or Infinity to retry until signal aborts', value);
}
