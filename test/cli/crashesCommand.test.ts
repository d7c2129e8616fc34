// `otel-blackbox crashes` on the rows of a real crash: a child process (the viewer's crashing
// shop) logs in a span, logs its last line outside every span, and dies of an uncaught
// error with three spans open; its journal is recovered through the public API.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
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
    expect(processLines.map((line) => line.replace(/^ {4}\S+ {2}/, ''))).toEqual([
      'INFO  charging card ending 4242',
      'WARN  payment gateway slow: retrying',
      `ERROR  ${LAST_LINE}`,
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
    for (const crash of crashes) {
      expect(crash.process_lines.map((line: { body: string }) => line.body)).toEqual(['payment gateway slow: retrying', LAST_LINE]);
      const [inSpan, outside] = crash.process_lines;
      expect(inSpan.span_id).toMatch(/^[0-9a-f]{16}$/);
      expect(outside).toMatchObject({ severity_text: 'ERROR', trace_id: null, span_id: null });
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
