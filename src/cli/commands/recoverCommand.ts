import { existsSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isWriterDirName, parseSegmentFileName } from '../../journal/journalPaths.js';
import { ENV, RECOVERY_DEFAULTS } from '../../options/defaults.js';
import { MAX_MILLIS } from '../../options/validate.js';
import { envJournalDir } from '../../options/environment.js';
import { PostgresSpanExporter } from '../../postgres/PostgresSpanExporter.js';
import { recoverJournals, type JournalVerdict, type RecoveryReport } from '../../recovery/recoverJournals.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, connectionStringFrom, connectTimeoutMillis, HELP_OPTION, parseOrUsage, positiveIntegerArg, schemaFrom, UsageError } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { jsonLine, printable } from '../terminalText.js';

export const recoverHelp = `Usage: otel-blackbox recover [options]

Recovers the journals of dead processes in a journal directory into PostgreSQL now:
ended spans not yet committed are written as they were, spans that were still open
become crash records. Journals of live processes are left alone. Suited to an
operator, or to ExecStopPost= in a systemd unit.

Options:
  -j, --journal-dir DIR
                       journal directory (default: ${ENV.journalDir}, else ${RECOVERY_DEFAULTS.journalDir})
${DATABASE_HELP}
      --stale-after MS where a writer cannot be checked (another host), silence this
                       long means dead (default: ${RECOVERY_DEFAULTS.staleAfterMillis})
      --recover-foreign-journals
                       also recover journals owned by another user (left alone
                       by default: another user may have planted them)
      --recover-any-destination
                       also recover journals whose processes exported to another
                       database or schema, into this one (left alone by default)
      --attempts N     tries of each batch before a journal is given back, failed (default:
                       ${RECOVERY_DEFAULTS.maxAttempts}, about a second; 20 waits about half a minute for a
                       database that is restarting)
      --dry-run        only say what a recovery would do with each journal (dead:
                       recovered; alive or another's: left alone); change nothing
      --json           print the report as JSON
  -h, --help           show this help

Exit status: 0 when every dead journal was recovered (or, with --dry-run, would be), 1
when one could not be or was left alone (another user's, another destination's, a newer
otel-blackbox's, one that could not be read; diag lines on stderr name them), when the
journal directory does not exist, or when it is one process's journal (it holds
segments: pass the directory above it).`;

export async function recoverCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      strict: true,
      options: {
        ...HELP_OPTION,
        ...DATABASE_OPTIONS,
        'journal-dir': { type: 'string', short: 'j' },
        'stale-after': { type: 'string' },
        attempts: { type: 'string' },
        'recover-foreign-journals': { type: 'boolean' },
        'recover-any-destination': { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
      },
    }),
  );
  if (values.help) {
    io.out(recoverHelp);
    return EXIT.ok;
  }
  // White space alone, as in OTEL_BLACKBOX_JOURNAL_DIR, is no directory (it looked for one named so).
  if (values['journal-dir']?.trim() === '') throw new UsageError(`--journal-dir expects a directory, got ${JSON.stringify(values['journal-dir'])}`);
  const journalDir = values['journal-dir'] ?? envJournalDir() ?? RECOVERY_DEFAULTS.journalDir;
  const staleAfterMillis = positiveIntegerArg('stale-after', values['stale-after'], RECOVERY_DEFAULTS.staleAfterMillis);
  // recoverJournals refuses it too, but as a failure (exit 1) naming its own option.
  if (staleAfterMillis > MAX_MILLIS) throw new UsageError(`--stale-after expects at most ${MAX_MILLIS} ms, got ${staleAfterMillis}`);
  // Five tries take about a second: a database restarting under ExecStopPost= failed the run (a review).
  const maxAttempts = positiveIntegerArg('attempts', values.attempts, RECOVERY_DEFAULTS.maxAttempts);
  // PGCONNECT_TIMEOUT as every other command reads it: before, a server that never answered held each of recovery's attempts 10 s.
  const exporter = new PostgresSpanExporter({ connectionString: connectionStringFrom(values.database), schema: schemaFrom(values.schema), connectionTimeoutMillis: connectTimeoutMillis() });
  try {
    // A directory that is not there is most likely the wrong one (a relative default read in
    // another working directory): "recovered 0 journals" and exit 0 said all was well.
    // After the options: a usage error is said first.
    if (!existsSync(journalDir)) {
      io.err(`otel-blackbox recover: no journal directory at ${printable(resolve(journalDir))}: check --journal-dir, ${ENV.journalDir} or the working directory`);
      return EXIT.failed;
    }
    // One writer's journal (its segments) is not a journal directory: none of its entries is
    // a journal, and "recovered 0 journals" said all was well.
    if (isOneWritersJournal(journalDir)) {
      io.err(
        `otel-blackbox recover: ${printable(resolve(journalDir))} is one process's journal (it holds segments); ` +
          `pass the directory that holds it: --journal-dir ${printable(dirname(resolve(journalDir)))}`,
      );
      return EXIT.failed;
    }
    const report = await recoverJournals({
      journalDir,
      exporter,
      staleAfterMillis,
      maxAttempts,
      recoverForeignJournals: values['recover-foreign-journals'] ?? RECOVERY_DEFAULTS.recoverForeignJournals,
      recoverAnyDestination: values['recover-any-destination'] ?? RECOVERY_DEFAULTS.recoverAnyDestination,
      dryRun: values['dry-run'] ?? false,
      onJournal: (progress) => {
        if (!io.interactive) return;
        io.err(
          progress.outcome === 'recovered'
            ? `recovered ${printable(progress.dir)}: ${progress.spansEnded} ended, ${progress.spansCrashed} crashed`
            : `failed ${printable(progress.dir)}: ${printable(progress.error)}`,
        );
      },
    });
    // Records the database refused, in its dead_letters table (report.deadLettered).
    const { deadLettered } = report;
    if (values.json) io.out(jsonLine(report));
    else if (report.verdicts !== undefined) printVerdicts(report.verdicts, io);
    else {
      io.out(
        `recovered ${report.journals} journals (${report.segments} segments): ${report.spansEnded} ended spans, ` +
          `${report.spansCrashed} crash records, ${report.logRecords} log records; ` +
          // Not in the figures before: read from the journal, then refused (recoverJournals.ts, refusedIn).
          (deadLettered > 0 ? `dead-lettered besides: ${deadLettered} (refused by the database; in the schema's dead_letters table, with the reason); ` : '') +
          `${report.corruptBytes} corrupt and ${report.tornBytes} torn bytes skipped; ` +
          `${report.liveJournals} live journals left alone` +
          (report.foreignJournals > 0 ? `; ${report.foreignJournals} journals of another user left alone (--recover-foreign-journals)` : '') +
          (report.newerJournals > 0 ? `; ${report.newerJournals} journals of a newer otel-blackbox left alone` : '') +
          (report.otherDestinationJournals > 0
            ? `; ${report.otherDestinationJournals} journals written for another destination (database, schema, or an exporter that names none) left alone (--recover-any-destination)`
            : '') +
          (report.unreadableJournals > 0 ? `; ${report.unreadableJournals} journals this user cannot read left alone (run recover as their owner, or as root with --recover-foreign-journals)` : ''),
      );
      for (const failure of report.failures) io.err(`not recovered: ${printable(failure.dir)}: ${printable(failure.error)}`);
    }
    const leftAlone = report.foreignJournals + report.newerJournals + report.otherDestinationJournals + report.unreadableJournals;
    return report.failures.length === 0 && leftAlone === 0 ? EXIT.ok : EXIT.failed;
  } finally {
    await exporter.shutdown();
  }
}

const VERDICT_LINES: Record<JournalVerdict, string> = {
  dead: 'dead, would be recovered',
  alive: 'alive, left alone',
  foreign: "another user's, would be left alone (--recover-foreign-journals)",
  newer: "a newer otel-blackbox's, would be left alone",
  'other-destination': 'written for another destination (database, schema, or an exporter that names none), would be left alone (--recover-any-destination)',
  unreadable: 'cannot be read by this user to be judged, would be left alone (run as its owner, or as root with --recover-foreign-journals)',
};

/**
 * Whether `dir` holds segments and no journal: a stray segment-named file beside journals
 * made the whole directory one writer's journal, and none of them was recovered (a review).
 */
function isOneWritersJournal(dir: string): boolean {
  try {
    const names = readdirSync(dir);
    return names.some((name) => parseSegmentFileName(name) !== undefined) && !names.some(isWriterDirName);
  } catch {
    return false; // Not listable: recoverJournals says why.
  }
}

function printVerdicts(verdicts: NonNullable<RecoveryReport['verdicts']>, io: CommandIo): void {
  for (const { dir, verdict, why } of verdicts) io.out(`${VERDICT_LINES[verdict]}: ${printable(dir)}${why === undefined ? '' : ` (${why})`}`);
  const count = (wanted: JournalVerdict) => verdicts.filter(({ verdict }) => verdict === wanted).length;
  const leftAlone = verdicts.length - count('dead') - count('alive');
  io.out(`dry run: ${verdicts.length} journals: ${count('dead')} would be recovered, ${count('alive')} alive, ${leftAlone} left alone; nothing was changed`);
}
