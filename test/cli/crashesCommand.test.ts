// `otel-blackbox crashes` on the rows of a real crash: a child process (the viewer's crashing
// shop) logs in a span, logs its last line outside every span, and dies of an uncaught
// error with three spans open; its journal is recovered through the public API.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { LAST_LINE, seedShopCrash } from '../ui/viewerFixture.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('cli_crashes');
  await seedShopCrash(db.url, schema, tempDir());
}, 60_000);
afterAll(() => db.close());

const cli = (...args: string[]) => runCli({ DATABASE_URL: db.url }, ...args);

describe('otel-blackbox crashes', () => {
  test('shows once, under the first crash of its process, the lines that process logged last: the one outside every span included', async () => {
    const result = await cli('crashes', '--schema', schema);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    const crashLines = lines.filter((line) => !line.startsWith(' '));
    expect(crashLines).toHaveLength(3);
    const told = lines.findIndex((line) => /^ {2}its process \(journal writer \S+\) logged last:$/.test(line));
    expect(told).toBeGreaterThan(0);
    // Its lines follow, oldest first, the last one logged outside every span.
    const processLines = lines.slice(told + 1, told + 4);
    // Each with the logger that wrote it, as the viewer shows it.
    expect(processLines.map((line) => line.replace(/^ {4}\S+ {2}/, ''))).toEqual([
      'INFO  charging card ending 4242  [shop-logs 1.0.0]',
      'WARN  payment gateway slow: retrying  [shop-logs 1.0.0]',
      `ERROR  ${LAST_LINE}  [shop-logs 1.0.0]`,
    ]);
    expect(lines.filter((line) => line.includes(LAST_LINE))).toHaveLength(1);
    // The other two crashes of that process point back to it instead of repeating it.
    expect(lines.filter((line) => /^ {2}its process \(journal writer \S+\): last lines above$/.test(line))).toHaveLength(2);
  });

  test('--json: every crash names its writer and carries its process lines, with the span each was logged in', async () => {
    const result = await cli('crashes', '--schema', schema, '--json', '--process-lines', '2');
    expect(result.code).toBe(0);
    const crashes = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(crashes).toHaveLength(3);
    const writers = new Set(crashes.map((crash) => crash.writer_id));
    expect(writers.size).toBe(1);
    expect([...writers][0]).toMatch(/\S/);
    expect(crashes.some((crash) => crash.log_lines.length > 0)).toBe(true);
    for (const crash of crashes) {
      for (const line of crash.log_lines) expect(line).toMatchObject({ scope_name: 'shop-logs', scope_version: '1.0.0' });
      expect(crash.process_lines.map((line: { body: string }) => line.body)).toEqual(['payment gateway slow: retrying', LAST_LINE]);
      const [inSpan, outside] = crash.process_lines;
      expect(inSpan.span_id).toMatch(/^[0-9a-f]{16}$/);
      // Flags tell a sampled span from one not sampled, which has no row (a review).
      expect(inSpan.trace_flags).toBe(1);
      expect(outside).toMatchObject({ severity_text: 'ERROR', scope_name: 'shop-logs', scope_version: '1.0.0', trace_id: null, span_id: null, trace_flags: null });
      expect(outside.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
  });

  test('--process-lines 0 leaves them out; a count that is not one is a usage error naming the option', async () => {
    const none = await cli('crashes', '--schema', schema, '--process-lines', '0');
    expect(none.code).toBe(0);
    expect(none.stdout).not.toContain('its process');
    expect(none.stdout).not.toContain(LAST_LINE);
    const json = await cli('crashes', '--schema', schema, '--process-lines', '0', '--json');
    expect(JSON.parse(json.stdout.split('\n')[0]!)).not.toHaveProperty('process_lines');
    const bad = await cli('crashes', '--schema', schema, '--process-lines', 'all');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--process-lines');
  });
});

// Rows written as a recovery writes them, with times chosen to tell the orders apart.
describe('otel-blackbox crashes: which crashes and which lines', () => {
  let ordered: string;
  const HOUR_NS = 3_600_000_000_000n;
  const NOW_NS = BigInt(Date.now()) * 1_000_000n;
  const ts = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

  async function crash(traceId: string, name: string, startNs: bigint, endNs: bigint): Promise<void> {
    await db.query(`INSERT INTO "${ordered}".traces (trace_id, start_time, start_time_unix_nano) VALUES ($1, $2, $3)`, [traceId, ts(startNs), String(startNs)]);
    await db.query(
      `INSERT INTO "${ordered}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano,
                                       status_code, status_message, crash_reason, end_time_estimated, attributes)
       VALUES ($1, 'aaaaaaaaaaaaaaa1', $2, 'INTERNAL', 'crashed', $3, $4, $5, $6, 'ERROR', 'process vanished', 'process vanished', true, '{}')`,
      [traceId, name, ts(startNs), String(startNs), ts(endNs), String(endNs)],
    );
  }

  async function line(traceId: string, sequence: number, timeNs: bigint, observedNs: bigint, body: unknown): Promise<void> {
    await db.query(
      `INSERT INTO "${ordered}".logs (kind, writer_id, sequence, trace_id, span_id, time, time_unix_nano, observed_time, observed_time_unix_nano, severity_text, body)
       VALUES ('log', 'w-order', $1, $2, 'aaaaaaaaaaaaaaa1', $3, $4, $5, $6, 'INFO', $7)`,
      [sequence, traceId, ts(timeNs), String(timeNs), ts(observedNs), String(observedNs), JSON.stringify(body)],
    );
  }

  beforeAll(async () => {
    ordered = await db.freshSchema('cli_crash_order');
    await migrateSchema(db.pool, ordered);
    // A long task started two hours ago and crashed a minute ago; a short one started an hour
    // ago and crashed then. By their start, the short one came first (a review).
    await crash('1'.repeat(32), 'long task', NOW_NS - 2n * HOUR_NS, NOW_NS - 60_000_000_000n);
    await crash('2'.repeat(32), 'short task', NOW_NS - HOUR_NS, NOW_NS - HOUR_NS + 1_000_000n);
    // The short task logged a body of 200,000 characters.
    await line('2'.repeat(32), 4, NOW_NS - HOUR_NS, NOW_NS - HOUR_NS, 'x'.repeat(200_000));
  });

  test("under a DateStyle other than ISO ('SQL, DMY' from the URL, as a database's setting gives it) the times are read as well", async () => {
    const url = new URL(db.url);
    url.searchParams.set('options', '-c DateStyle=SQL,DMY');
    const json = await runCli({ DATABASE_URL: url.toString() }, 'crashes', '--schema', ordered, '--json', '--lines', '0', '--process-lines', '0');
    expect(json.stderr).toBe('');
    const rows = json.stdout.trim().split('\n').map((row) => JSON.parse(row));
    expect(rows.map((row) => row.name)).toEqual(['long task', 'short task']);
    expect(rows[0].end_time).toBe(ts(NOW_NS - 60_000_000_000n));
  });

  test('the latest crash first, and -n 1 is that one', async () => {
    const all = await cli('crashes', '--schema', ordered, '--lines', '0', '--process-lines', '0');
    expect(all.stdout.trimEnd().split('\n').map((row) => row.split('  ')[2])).toEqual(['long task', 'short task']);
    const latest = await cli('crashes', '--schema', ordered, '-n', '1', '--json', '--lines', '0', '--process-lines', '0');
    expect(latest.stdout.trim().split('\n').map((row) => JSON.parse(row).name)).toEqual(['long task']);
  });

  test('a large body is cut: to 2,000 characters on the terminal, 65,536 in --json', async () => {
    const text = await cli('crashes', '--schema', ordered, '--lines', '1', '--process-lines', '0');
    const bodyLine = text.stdout.split('\n').find((row) => row.includes('xxxx'))!;
    expect(bodyLine.length).toBeLessThan(2200);
    expect(bodyLine).toMatch(/… \(cut at 2000 characters; --json has up to 65536\)$/);
    const json = await cli('crashes', '--schema', ordered, '--json', '--lines', '1', '--process-lines', '0');
    const short = json.stdout.trim().split('\n').map((row) => JSON.parse(row)).find((row) => row.name === 'short task');
    expect(short.log_lines[0].body).toHaveLength(65_536);
    expect(short.log_lines[0].body).toMatch(/… \(cut by otel-blackbox crashes\)$/);
  });
});
