import { parseArgs } from 'node:util';
import { MAX_MILLIS } from '../../options/validate.js';
import { MigrationUnderWayError, MigrationsIncompleteError, migrateSchema, migrationScript, TABLE_LOCK_WAIT_MILLIS } from '../../postgres/migrate.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, connectionStringFrom, openPool, HELP_OPTION, parseOrUsage, positiveIntegerArg, schemaFrom, UsageError } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { printable } from '../terminalText.js';

export const migrateHelp = `Usage: otel-blackbox migrate [options]

Creates or upgrades the otel-blackbox schema. Safe to run again, and from many
processes at once.

Options:
${DATABASE_HELP}
      --dry-run        print the script of every migration, for a new schema, instead of running it
      --lock-wait MS   how long a migration waits for a table lock another session holds
                       (default 3000); past it nothing is changed and migrate fails (exit 1)
  -h, --help           show this help`;

export async function migrateCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({ args, strict: true, options: { ...HELP_OPTION, ...DATABASE_OPTIONS, 'dry-run': { type: 'boolean' }, 'lock-wait': { type: 'string' } } }),
  );
  if (values.help) {
    io.out(migrateHelp);
    return EXIT.ok;
  }
  const schema = schemaFrom(values.schema);
  // Every option is checked, with --dry-run too: a wrong one was taken without a word there.
  const tableLockWaitMillis = positiveIntegerArg('lock-wait', values['lock-wait'], TABLE_LOCK_WAIT_MILLIS);
  if (tableLockWaitMillis > MAX_MILLIS) throw new UsageError(`--lock-wait expects at most ${MAX_MILLIS} ms, got ${tableLockWaitMillis}`);
  const connectionString = connectionStringFrom(values.database);
  if (values['dry-run']) {
    io.out(migrationScript(schema).trimEnd());
    return EXIT.ok;
  }
  const { pool, target } = openPool(connectionString);
  try {
    const { applied } = await migrateSchema(pool, schema, { tableLockWaitMillis });
    io.out(applied.length === 0 ? `schema ${schema} is up to date` : `schema ${schema}: applied migrations ${applied.join(', ')}`);
    return EXIT.ok;
  } catch (error) {
    io.err(`otel-blackbox migrate: cannot migrate ${schema} on ${printable(target)}: ${printable((error as Error).message)}${failureHints(error)}`);
    return EXIT.failed;
  } finally {
    await pool.end();
  }
}

/**
 * What to do about a failure, in parentheses, or '' where there is no advice. A
 * MigrationsIncompleteError gets one for each kind among its failures: a table lock and a
 * statement_timeout are two things to mend, and the first alone was said.
 */
export function failureHints(error: unknown): string {
  // Migrations a writer does without each go in a transaction of their own: those before
  // (and besides) the one that failed stay applied, and "nothing was changed" is not true.
  const incomplete = error instanceof MigrationsIncompleteError;
  const unchanged = !incomplete || error.applied.length === 0;
  const causes = incomplete ? error.failed.map(({ error: cause }) => cause) : [error];
  const hints = new Set(causes.map((cause) => hintFor(cause, unchanged)).filter((hint) => hint !== ''));
  return [...hints].map((hint) => ` (${hint})`).join('');
}

/**
 * 55P03: a table lock not granted within --lock-wait. Or the role's lock_timeout ended the
 * wait for another process's migration, which says so. 57014: a statement_timeout shorter
 * than building an index over a large table. 42501: a role that may not (not the owner).
 */
function hintFor(cause: unknown, unchanged: boolean): string {
  if (cause instanceof MigrationUnderWayError) return 'run it again once that migration has ended; the role or database sets a lock_timeout';
  const code = (cause as { code?: string } | undefined)?.code;
  if (code === '55P03') return `another session held one of its tables longer than --lock-wait; ${unchanged ? 'nothing was changed: ' : ''}run it again, or allow a longer wait`;
  if (code === '57014') return `a statement_timeout cancelled it: run it again with a longer one, e.g. PGOPTIONS='-c statement_timeout=0'`;
  if (code === '42501') return "the role may not change the schema: run it as the schema's owner, e.g. --database with that role";
  return '';
}
