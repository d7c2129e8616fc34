import { parseArgs } from 'node:util';
import type pg from 'pg';
import { quoteSchema, type QuotedSchema } from '../../postgres/schemaName.js';
import { shortJsonSql } from '../../postgres/shortJson.js';
import { writerLinesSql } from '../../postgres/writerLines.js';
import { ATTR_WRITER_ID } from '../../spanMarkers.js';
import { DATABASE_HELP, DATABASE_OPTIONS, EXIT, connectionStringFrom, countArg, openPool, HELP_OPTION, parseOrUsage, positiveIntegerArg, schemaAdvice, schemaFrom } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { jsonLine, printable } from '../terminalText.js';

export const crashesHelp = `Usage: otel-blackbox crashes [options]

Lists the most recent crash records: the spans that were running when their process
died, the latest crash first (by the crash record's end, its process's last sign of
life), each with the last log lines of that span (by their timestamps), and once per
process the last lines that process logged, in any span or outside all of them (in the
order it logged them).

Options:
${DATABASE_HELP}
  -n, --limit N        how many (default: 20)
      --lines N        log lines shown under each crash, the last ones (default: 5; 0: none)
      --process-lines N
                       lines its process logged last, shown once per process
                       (default: 5; 0: none)
      --json           one JSON object per line instead of a table
  -h, --help           show this help

Log bodies are cut to 2000 characters on the terminal and 65536 in --json.`;

interface CrashRow {
  end_time: Date;
  service_name: string | null;
  name: string;
  trace_id: string;
  span_id: string;
  crash_reason: string | null;
  /** The journal writer (a process, or a worker with its own provider) that left it open: ATTR_WRITER_ID. */
  writer_id: string | null;
  log_lines: LogLine[];
}

interface LogLine {
  time: string;
  severity_text: string | null;
  body: unknown;
  /** The logger that wrote it (its instrumentation scope), shown after the body as the viewer shows it. */
  scope_name: string | null;
  scope_version: string | null;
}

/** A line of the process, with the span it was logged in (null ids: outside every span; flags 0: a span not sampled, which has no row). */
interface ProcessLine extends LogLine {
  trace_id: string | null;
  span_id: string | null;
  trace_flags: number | null;
}

/**
 * A log body leaves the database cut to this many characters (`--json` too), and a line on
 * the terminal to LINE_CHARS: bodies are as large as the application made them, and one
 * crash's lines sent 93 MB to a terminal (a review).
 */
const MAX_BODY_CHARS = 65_536;
const LINE_CHARS = 2000;
/** SQL: the log body `column`, cut to MAX_BODY_CHARS by PostgreSQL. */
const cutBody = (column: string) => shortJsonSql(column, MAX_BODY_CHARS, 'cut by otel-blackbox crashes');

/** Times in UTC like the crash's own, whatever the session's time zone. */
const UTC_TIME = `to_char(l.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export async function crashesCommand(args: string[], io: CommandIo): Promise<number> {
  const { values } = parseOrUsage(() =>
    parseArgs({
      args,
      strict: true,
      options: { ...HELP_OPTION, ...DATABASE_OPTIONS, limit: { type: 'string', short: 'n' }, lines: { type: 'string' }, 'process-lines': { type: 'string' }, json: { type: 'boolean' } },
    }),
  );
  if (values.help) {
    io.out(crashesHelp);
    return EXIT.ok;
  }
  const schemaName = schemaFrom(values.schema);
  const schema = quoteSchema(schemaName);
  const limit = positiveIntegerArg('limit', values.limit, 20);
  const lines = countArg('lines', values.lines, 5);
  const processLineCount = countArg('process-lines', values['process-lines'], 5);
  const { pool, target } = openPool(connectionStringFrom(values.database));
  try {
    const { rows } = await pool.query<CrashRow>(
      // The last $2 log records of each crash by their timestamps, oldest first: the order
      // logs_span_idx keeps, so a span of many lines costs a short backward scan. (By when
      // the SDK took them, every line of each span listed was read and sorted: a second over
      // 200,000 lines, a review.) The process's own section below is in journal order.
      `SELECT s.end_time, s.service_name, s.name, s.trace_id, s.span_id, s.crash_reason, s.attributes->>$3 AS writer_id,
              COALESCE((SELECT json_agg(json_build_object('time', ${UTC_TIME}, 'severity_text', l.severity_text, 'body', l.body, 'scope_name', l.scope_name, 'scope_version', l.scope_version) ORDER BY l.time_unix_nano, l.sequence)
                          FROM (SELECT time, time_unix_nano, sequence, severity_text, ${cutBody('body')} AS body, scope_name, scope_version FROM ${schema}.logs
                                 WHERE trace_id = s.trace_id AND span_id = s.span_id AND kind = 'log'
                                 ORDER BY time_unix_nano DESC, sequence DESC LIMIT $2) l), '[]') AS log_lines
         FROM ${schema}.spans s WHERE s.state = 'crashed'
        -- The latest crash first: by their spans' start, a long task that crashed now came
        -- after every crash of a span started later, and -n 1 left it out (a review).
        ORDER BY s.end_time_unix_nano DESC NULLS LAST, s.trace_id DESC, s.span_id DESC LIMIT $1`,
      [limit, lines, ATTR_WRITER_ID],
    );
    const byWriter = processLineCount === 0 ? new Map<string, ProcessLine[]>() : await processLines(pool, schema, rows, processLineCount);
    const shown = new Set<string>();
    for (const row of rows) {
      // Names and reasons come from whoever made the span: escaped, never raw (terminalText.ts).
      const reason = (row.crash_reason ?? '').split('\n')[0];
      const writerLines = row.writer_id === null ? undefined : byWriter.get(row.writer_id);
      if (values.json) io.out(jsonLine({ ...row, end_time: row.end_time.toISOString(), ...(processLineCount > 0 && { process_lines: writerLines ?? [] }) }));
      else {
        io.out([row.end_time.toISOString(), row.service_name ?? '-', row.name, row.trace_id, reason].map(printable).join('  '));
        for (const line of row.log_lines) io.out(`    ${logLineText(line)}`);
        if (writerLines === undefined || writerLines.length === 0) continue;
        // A process that died with several spans open is one story: told under its first crash.
        if (shown.has(row.writer_id!)) io.out(`  its process (journal writer ${printable(row.writer_id)}): last lines above`);
        else {
          shown.add(row.writer_id!);
          io.out(`  its process (journal writer ${printable(row.writer_id)}) logged last:`);
          for (const line of writerLines) io.out(`    ${logLineText(line)}`);
        }
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

/** The last `count` lines each crash's writer logged (writerLines.ts), oldest first, by writer id. */
async function processLines(pool: pg.Pool, schema: QuotedSchema, crashes: CrashRow[], count: number): Promise<Map<string, ProcessLine[]>> {
  const writers = [...new Set(crashes.flatMap((crash) => (crash.writer_id === null ? [] : [crash.writer_id])))];
  const byWriter = new Map<string, ProcessLine[]>();
  if (writers.length === 0) return byWriter;
  const { rows } = await pool.query<ProcessLine & { writer_id: string }>(
    `SELECT w.writer_id, l.time, l.severity_text, l.body, l.scope_name, l.scope_version, l.trace_id, l.span_id, l.trace_flags
       FROM unnest($1::text[]) AS w(writer_id)
       CROSS JOIN LATERAL (${writerLinesSql(schema, `${UTC_TIME} AS time, l.sequence, l.severity_text, ${cutBody('l.body')} AS body, l.scope_name, l.scope_version, l.trace_id, l.span_id, l.trace_flags`, 'w.writer_id', '$2')}) l
      ORDER BY w.writer_id, l.sequence`,
    [writers, count],
  );
  for (const { writer_id, ...line } of rows) {
    const lines = byWriter.get(writer_id) ?? [];
    lines.push(line);
    byWriter.set(writer_id, lines);
  }
  return byWriter;
}

function logLineText(line: LogLine): string {
  const fields = [String(line.time), line.severity_text ?? '-', cut(bodyText(line.body))];
  if (line.scope_name) fields.push(`[${cut([line.scope_name, line.scope_version].filter(Boolean).join(' '))}]`);
  return fields.map(printable).join('  ');
}

function cut(text: string): string {
  return text.length <= LINE_CHARS ? text : `${text.slice(0, LINE_CHARS)}… (cut at ${LINE_CHARS} characters; --json has up to ${MAX_BODY_CHARS})`;
}

/** A log body on one line: a string as it is, anything else as JSON. */
function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : JSON.stringify(body) ?? '';
}
