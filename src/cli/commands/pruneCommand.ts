import { parseArgs } from 'node:util';
import { pruneSchema, PRUNE_BATCH, type PruneReport } from '../../postgres/prune.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, HELP_OPTION, UsageError, connectionStringFrom, openPool, parseOrUsage, positiveIntegerArg, schemaAdvice, schemaFrom } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { printable } from '../terminalText.js';

export const pruneHelp = `Usage: otel-blackbox prune --older-than AGE [options]

Removes what is older than AGE: whole traces (their spans, span events and log
records) once everything stored of them is, log records outside any span or in
spans not sampled, and dead letters. A batch of traces per transaction, oldest first; a trace being written is
left for the next run. Run it from cron, say daily.

Options:
${DATABASE_HELP}
      --older-than AGE how old data must be to go: a number of days, hours or
                       minutes (7d, 12h, 90m). Required
      --batch N        traces per transaction (default ${PRUNE_BATCH}); lower it for traces of
                       thousands of spans
      --dry-run        count what would go, and remove nothing
  -h, --help           show this help`;

const AGE_HELP = 'a number of days, hours or minutes (7d, 12h, 90m)';
const UNIT_MILLIS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

/** `7d`, `12h`, `90m` in milliseconds. */
function ageMillis(value: string | undefined): number {
  if (value === undefined) throw new UsageError(`--older-than is required: how old data must be to go, as ${AGE_HELP}`);
  const match = /^(\d{1,6})([dhm])$/.exec(value);
  const millis = match ? Number(match[1]) * UNIT_MILLIS[match[2]!]! : 0;
  if (millis <= 0) throw new UsageError(`--older-than expects ${AGE_HELP}, got ${JSON.stringify(value)}`);
  return millis;
}

export async function pruneCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({ args, strict: true, options: { ...HELP_OPTION, ...DATABASE_OPTIONS, 'older-than': { type: 'string' }, batch: { type: 'string' }, 'dry-run': { type: 'boolean' } } }),
  );
  if (values.help) {
    io.out(pruneHelp);
    return EXIT.ok;
  }
  const olderThan = new Date(Date.now() - ageMillis(values['older-than']));
  const batch = positiveIntegerArg('batch', values.batch, PRUNE_BATCH);
  const schemaName = schemaFrom(values.schema);
  const dryRun = values['dry-run'] === true;
  const { pool, target } = openPool(connectionStringFrom(values.database));
  try {
    const report = await pruneSchema(pool, schemaName, { olderThan, batch, dryRun });
    io.out(`otel-blackbox prune: ${summary(report, dryRun)} older than ${olderThan.toISOString()} in schema ${schemaName}`);
    return EXIT.ok;
  } catch (error) {
    io.err(`otel-blackbox prune: cannot prune ${printable(target)}: ${printable((error as Error).message)}${schemaAdvice(error, schemaName)}`);
    return EXIT.failed;
  } finally {
    await pool.end();
  }
}

function counted(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

function summary(r: PruneReport, dryRun: boolean): string {
  if (r.traces + r.logRecordsOutsideSpans + r.deadLetters === 0) return `${dryRun ? 'would remove' : 'removed'} nothing: no trace, log record or dead letter is`;
  const traces = `${counted(r.traces, 'trace')} (${counted(r.spans, 'span')}, ${counted(r.spanEvents, 'span event')}, ${counted(r.logRecords, 'log record')})`;
  return `${dryRun ? 'would remove' : 'removed'} ${traces}, ${counted(r.logRecordsOutsideSpans, 'log record')} outside any span and ${counted(r.deadLetters, 'dead letter')}`;
}
