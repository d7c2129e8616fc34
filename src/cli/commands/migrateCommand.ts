import { parseArgs } from 'node:util';
import { migrateSchema, migrationScript } from '../../postgres/migrate.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, connectionStringFrom, openPool, HELP_OPTION, parseOrUsage, schemaFrom } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { printable } from '../terminalText.js';

export const migrateHelp = `Usage: otel-blackbox migrate [options]

Creates or upgrades the otel-blackbox schema. Safe to run again, and from many
processes at once.

Options:
${DATABASE_HELP}
      --dry-run        print the SQL of every migration instead of running it
  -h, --help           show this help`;

export async function migrateCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({ args, strict: true, options: { ...HELP_OPTION, ...DATABASE_OPTIONS, 'dry-run': { type: 'boolean' } } }),
  );
  if (values.help) {
    io.out(migrateHelp);
    return EXIT.ok;
  }
  const schema = schemaFrom(values.schema);
  if (values['dry-run']) {
    io.out(migrationScript(schema).trimEnd());
    return EXIT.ok;
  }
  const { pool, target } = openPool(connectionStringFrom(values.database));
  try {
    const { applied } = await migrateSchema(pool, schema);
    io.out(applied.length === 0 ? `schema ${schema} is up to date` : `schema ${schema}: applied migrations ${applied.join(', ')}`);
    return EXIT.ok;
  } catch (error) {
    io.err(`otel-blackbox migrate: cannot migrate ${schema} on ${printable(target)}: ${printable((error as Error).message)}`);
    return EXIT.failed;
  } finally {
    await pool.end();
  }
}
