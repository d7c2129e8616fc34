// Names and messages from a journal or the database reach the operator's terminal escaped:
// a span name is chosen by whoever sends a request.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonLine, printable } from '../../src/cli/terminalText.js';
import { SEGMENT_MAGIC, encodeFrame } from '../../src/journal/frame.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

// Clears the screen, sets the window title, forges a line, an 8-bit CSI, a bidi override.
const HOSTILE = 'GET /\x1b[2J\x1b]0;owned\x07\nERROR fake line\r\u009b31m\u202eevil\u2028end\x7f\u200f\u061c\u200e';
// Anything a terminal could act on: C0 (newline included), DEL, C1, separators, bidi.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

beforeAll(async () => {
  schema = await db.freshSchema('cli_output_escaping');
  await migrateSchema(db.pool, schema);
  await db.query(
    `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano, service_name, crash_reason)
     VALUES ($1, $2, $3, 'SERVER', 'crashed', now(), 0, now(), 0, $4, $5)`,
    ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', HOSTILE, `svc${HOSTILE}`, `process exited: ${HOSTILE}`],
  );
});
afterAll(() => db.close());

const cli = (...args: string[]) => runCli({ DATABASE_URL: db.url }, ...args);

function outputLines(stdout: string): string[] {
  expect(stdout.endsWith('\n')).toBe(true);
  const lines = stdout.slice(0, -1).split('\n');
  for (const line of lines) expect(line).not.toMatch(RAW_CONTROL);
  return lines;
}

describe('otel-blackbox crashes', () => {
  it('prints a hostile span name on one line, every control character escaped', async () => {
    const result = await cli('crashes', '--schema', schema);
    expect(result.code).toBe(0);
    const [line, ...more] = outputLines(result.stdout);
    expect(more).toEqual([]);
    expect(line).toContain(printable(HOSTILE));
    expect(line).toContain('GET /\\x1b[2J\\x1b]0;owned\\x07\\nERROR fake line\\r\\x9b31m\\u202eevil\\u2028end\\x7f\\u200f\\u061c\\u200e');
  });

  it('prints the log lines before a crash in UTC, like the crash itself, whatever the session time zone', async () => {
    await db.query(
      `INSERT INTO "${schema}".logs (kind, writer_id, sequence, trace_id, span_id, time, time_unix_nano, severity_text, body)
       VALUES ('log', 'w-tz', 1, $1, $2, '2026-01-15 08:00:01.5+00', 1768464001500000000, 'INFO', '"about to crash"')
       ON CONFLICT DO NOTHING`,
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'],
    );
    const url = new URL(db.url);
    url.searchParams.set('options', '-c TimeZone=Asia/Kolkata');
    const result = await runCli({ DATABASE_URL: url.toString() }, 'crashes', '--schema', schema, '--json');
    const [crash] = outputLines(result.stdout).map((line) => JSON.parse(line));
    expect(crash.log_lines.map((line: { time: string }) => line.time)).toEqual(['2026-01-15T08:00:01.500000Z']);
  });

  it('--json: one parseable line per crash, holding the exact name', async () => {
    const result = await cli('crashes', '--schema', schema, '--json');
    const lines = outputLines(result.stdout);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ name: HOSTILE, service_name: `svc${HOSTILE}` });
  });
});

describe('otel-blackbox inspect', () => {
  it('prints a hostile span name from a journal as parseable JSON with no raw control characters', async () => {
    const path = join(tempDir(), 'hostile.seg');
    const start = { n: HOSTILE, t: '0af7651916cd43dd8448eb211c80319c', s: 'b7ad6b7169203331' };
    writeFileSync(path, Buffer.concat([SEGMENT_MAGIC, encodeFrame(RecordType.SpanStart, JSON.stringify(start))]));
    const result = await cli('inspect', path);
    const lines = outputLines(result.stdout);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ type: 'SPAN_START', record: { n: HOSTILE } });
  });
});

describe('printable and jsonLine', () => {
  it.each([
    ['plain text', 'GET /orders', 'GET /orders'],
    ['newline and tab', 'a\nb\tc', 'a\\nb\\tc'],
    ['ESC', '\x1b[31m', '\\x1b[31m'],
    ['8-bit CSI', '\u009b2J', '\\x9b2J'],
    ['bidi override', 'a\u202eb', 'a\\u202eb'],
    ['non-ASCII text kept', 'Grüße 日本 ✓', 'Grüße 日本 ✓'],
  ])('%s', (_, input, expected) => {
    expect(printable(input)).toBe(expected);
    expect(jsonLine(input)).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(jsonLine(input))).toBe(input);
  });
});
