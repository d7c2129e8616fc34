// Usage errors (exit 2) say what was wrong in the operator's own terms: the option or the
// environment variable the value came from, on lines as the message has them.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CommandIo } from '../../src/cli/cliSupport.js';

/** main() in-process, with stdout and stderr collected. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CommandIo = { out: (line) => out.push(line), err: (line) => err.push(line), interactive: false };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('a usage error from parseArgs', () => {
  it('prints its own line breaks as line breaks, not as \\n', async () => {
    const result = await run('recover', '--stale-after', '-5');
    expect(result.code).toBe(2);
    expect(result.err).not.toContain('\\n');
    expect(result.err.split('\n')).toEqual([
      "otel-blackbox recover: Option '--stale-after' argument is ambiguous.",
      "Did you forget to specify the option argument for '--stale-after'?",
      "To specify an option argument starting with a dash use '--stale-after=-XYZ'.",
      "Run 'otel-blackbox recover --help' for usage.",
    ]);
  });

  it('still escapes a control character in what the operator typed', async () => {
    const result = await run('crashes', '--no-such\x1b[2J');
    expect(result.code).toBe(2);
    expect(result.err).toContain('--no-such\\x1b[2J');
    expect(result.err).not.toContain('\x1b');
  });
});

describe('a bad schema name', () => {
  it.each(['crashes', 'migrate', 'recover', 'ui'])('from OTEL_BLACKBOX_SCHEMA is said to come from there (%s)', async (command) => {
    vi.stubEnv('OTEL_BLACKBOX_SCHEMA', 'Bad');
    const result = await run(command);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^otel-blackbox \w+: Invalid option OTEL_BLACKBOX_SCHEMA \(environment variable\): expected .+, got "Bad"\./);
    expect(result.err).not.toContain('--schema');
  });

  it('from --schema is said to come from --schema, whatever the environment holds', async () => {
    vi.stubEnv('OTEL_BLACKBOX_SCHEMA', 'otel');
    const result = await run('crashes', '--schema', 'Bad');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^otel-blackbox crashes: Invalid option --schema: expected .+, got "Bad"\./);
  });
});

describe('a connection string node-postgres cannot use', () => {
  it.each([
    { form: 'libpq keyword/value', value: 'host=127.0.0.1 port=5999 user=postgres password=hunter2 dbname=x', says: 'keyword/value pairs (host=, port=, user=, password=, dbname=)' },
    { form: 'plain text', value: 'not a url', says: 'text that is not a URL' },
    { form: 'another scheme', value: 'mysql://root:hunter2@127.0.0.1/app', says: 'a URL with the scheme "mysql:"' },
  ])('in --database ($form) is a usage error naming --database, without echoing the value', async ({ value, says }) => {
    const result = await run('crashes', '--database', value, '--schema', 'otel');
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^otel-blackbox crashes: Invalid option --database: expected a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(result.err).toContain(`got ${says}`);
    expect(result.err).not.toContain('hunter2');
  });

  it.each(['crashes', 'migrate', 'recover', 'ui'])('in DATABASE_URL is a usage error naming DATABASE_URL (%s)', async (command) => {
    vi.stubEnv('DATABASE_URL', 'host=127.0.0.1 port=5999 user=postgres dbname=x');
    const result = await run(command);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^otel-blackbox \w+: Invalid option DATABASE_URL \(environment variable\): expected a postgres:\/\/ or postgresql:\/\/ URL/);
  });
});

describe('a count or a duration', () => {
  // Number() alone took these: "1e21" reached PostgreSQL as "1e+21" and failed there, exit 1.
  it.each([
    ['crashes', '--limit', '1e21'],
    ['crashes', '--limit', '0x10'],
    ['crashes', '--lines', '2.0'],
    ['crashes', '--process-lines', ' 3'],
    ['crashes', '--process-lines', '-1'],
    ['crashes', '--limit', '0'],
    ['crashes', '--limit', '99999999999999999999'],
    ['prune', '--batch', '1_000'],
    ['recover', '--stale-after', '5s'],
    ['migrate', '--lock-wait', '+10'],
  ])('%s %s %j is a usage error naming the option, before any connection', async (command, option, value) => {
    const result = await run(command, `${option}=${value}`, ...(command === 'prune' ? ['--older-than', '7d'] : []), '--database', 'postgres://nobody@127.0.0.1:1/none');
    expect(result.code).toBe(2);
    expect(result.err).toContain(`${option} expects`);
    expect(result.err).toContain(JSON.stringify(value));
  });
});
