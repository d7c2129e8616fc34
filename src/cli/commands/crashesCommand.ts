import { parseArgs } from 'node:util';
import { quoteSchema } from '../../postgres/schemaName.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, connectionStringFrom, openPool, HELP_OPTION, parseOrUsage, positiveIntegerArg, schemaFrom } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { jsonLine, printable } from '../terminalText.js';

export const crashesHelp = `Usage: otel-blackbox crashes [options]

Lists the most recent crash records: the spans that were running when their process
died, newest first.

Options:
${DATABASE_HELP}
  -n, --limit N        how many (default: 20)
      --json           one JSON object per line instead of a table
  -h, --help           show this help`;

interface CrashRow {
  end_time: Date;
  service_name: string | null;
  name: string;
  trace_id: string;
  span_id: string;
  crash_reason: string | null;
}

export async function crashesCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      strict: true,
      options: { ...HELP_OPTION, ...DATABASE_OPTIONS, limit: { type: 'string', short: 'n' }, json: { type: 'boolean' } },
    }),
  );
  if (values.help) {
    io.out(crashesHelp);
    return EXIT.ok;
  }
  const schema = quoteSchema(schemaFrom(values.schema));
  const limit = positiveIntegerArg('limit', values.limit, 20);
  const { pool, target } = openPool(connectionStringFrom(values.database));
  try {
    const { rows } = await pool.query<CrashRow>(
      `SELECT end_time, service_name, name, trace_id, span_id, crash_reason
         FROM ${schema}.spans WHERE state = 'crashed'
        ORDER BY start_time DESC LIMIT $1`,
      [limit],
    );
    for (const row of rows) {
      // Names and reasons come from whoever made the span: escaped, never raw (terminalText.ts).
      const reason = (row.crash_reason ?? '').split('\n')[0];
      if (values.json) io.out(jsonLine({ ...row, end_time: row.end_time.toISOString() }));
      else io.out([row.end_time.toISOString(), row.service_name ?? '-', row.name, row.trace_id, reason].map(printable).join('  '));
    }
    if (rows.length === 0 && !values.json) io.err('no crash records');
    return EXIT.ok;
  } catch (error) {
    io.err(`otel-blackbox crashes: cannot query ${printable(target)}: ${printable((error as Error).message)}`);
    return EXIT.failed;
  } finally {
    await pool.end();
  }
}
