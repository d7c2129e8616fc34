import { parseArgs } from 'node:util';
import { quoteSchema } from '../../postgres/schemaName.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, connectionStringFrom, openPool, HELP_OPTION, parseOrUsage, positiveIntegerArg, schemaAdvice, schemaFrom } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { jsonLine, printable } from '../terminalText.js';

export const crashesHelp = `Usage: otel-blackbox crashes [options]

Lists the most recent crash records: the spans that were running when their process
died, newest first, each with the last log lines journaled in that span.

Options:
${DATABASE_HELP}
  -n, --limit N        how many (default: 20)
      --lines N        log lines shown under each crash, the last ones (default: 5; 0: none)
      --json           one JSON object per line instead of a table
  -h, --help           show this help`;

interface CrashRow {
  end_time: Date;
  service_name: string | null;
  name: string;
  trace_id: string;
  span_id: string;
  crash_reason: string | null;
  log_lines: LogLine[];
}

interface LogLine {
  time: string;
  severity_text: string | null;
  body: unknown;
}

export async function crashesCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      strict: true,
      options: { ...HELP_OPTION, ...DATABASE_OPTIONS, limit: { type: 'string', short: 'n' }, lines: { type: 'string' }, json: { type: 'boolean' } },
    }),
  );
  if (values.help) {
    io.out(crashesHelp);
    return EXIT.ok;
  }
  const schemaName = schemaFrom(values.schema);
  const schema = quoteSchema(schemaName);
  const limit = positiveIntegerArg('limit', values.limit, 20);
  const lines = values.lines === '0' ? 0 : positiveIntegerArg('lines', values.lines, 5);
  const { pool, target } = openPool(connectionStringFrom(values.database));
  try {
    const { rows } = await pool.query<CrashRow>(
      // The last $2 log records of each crash, oldest first (logs_span_idx serves the lookup);
      // their times in UTC like the crash's own, whatever the session's time zone.
      `SELECT s.end_time, s.service_name, s.name, s.trace_id, s.span_id, s.crash_reason,
              COALESCE((SELECT json_agg(json_build_object('time', to_char(l.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'severity_text', l.severity_text, 'body', l.body) ORDER BY l.time_unix_nano, l.sequence)
                          FROM (SELECT time, time_unix_nano, sequence, severity_text, body FROM ${schema}.logs
                                 WHERE trace_id = s.trace_id AND span_id = s.span_id AND kind = 'log'
                                 ORDER BY time_unix_nano DESC, sequence DESC LIMIT $2) l), '[]') AS log_lines
         FROM ${schema}.spans s WHERE s.state = 'crashed'
        ORDER BY s.start_time DESC LIMIT $1`,
      [limit, lines],
    );
    for (const row of rows) {
      // Names and reasons come from whoever made the span: escaped, never raw (terminalText.ts).
      const reason = (row.crash_reason ?? '').split('\n')[0];
      if (values.json) io.out(jsonLine({ ...row, end_time: row.end_time.toISOString() }));
      else {
        io.out([row.end_time.toISOString(), row.service_name ?? '-', row.name, row.trace_id, reason].map(printable).join('  '));
        for (const line of row.log_lines) io.out(`    ${[String(line.time), line.severity_text ?? '-', bodyText(line.body)].map(printable).join('  ')}`);
      }
    }
    if (rows.length === 0 && !values.json) io.err('no crash records');
    return EXIT.ok;
  } catch (error) {
    io.err(`otel-blackbox crashes: cannot query ${printable(target)}: ${printable((error as Error).message)}${schemaAdvice(error, schemaName)}`);
    return EXIT.failed;
  } finally {
    await pool.end();
  }
}

/** A log body on one line: a string as it is, anything else as JSON. */
function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body) ?? '';
}
