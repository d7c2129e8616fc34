import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RecordType } from '../../src/journal/recordTypes.js';
import { migrationLock } from '../../src/postgres/migrate.js';
import { installMigrations } from '../helpers/installedMigrations.js';
import { runFixture } from '../helpers/childProcess.js';
import { runCli } from '../helpers/cli.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { TestDatabase } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';
import { segmentNames } from '../helpers/journalFiles.js';

const fixture = join(import.meta.dirname, '../fixtures/crashingService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('cli');
});
afterAll(() => db.close());

const cli = (...args: string[]) => runCli({ DATABASE_URL: db.url }, ...args);

/** `migrate --lock-wait 300` on a schema at `version` while another session reads spans in an open transaction. */
async function migrateBehindReaderOfSpans(behind: string, version: number) {
  await db.query(`DROP SCHEMA IF EXISTS "${behind}" CASCADE`);
  await installMigrations(db, behind, (v) => v <= version);
  const reader = new pg.Client({ connectionString: db.url });
  await reader.connect();
  try {
    await reader.query('BEGIN');
    await reader.query(`SELECT count(*) FROM "${behind}".spans`);
    return await cli('migrate', '--schema', behind, '--lock-wait', '300');
  } finally {
    await reader.query('ROLLBACK');
    await reader.end();
  }
}

describe('otel-blackbox CLI', () => {
  test('--help everywhere, and usage errors exit 2 on stderr', async () => {
    for (const command of ['migrate', 'recover', 'inspect', 'crashes', 'prune']) {
      const help = await cli(command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: otel-blackbox ${command}`);
      // `help <command>` printed the list of commands, not the command's help (a review).
      expect(await cli('help', command)).toEqual(help);
    }
    expect((await cli('help', 'explode')).code).toBe(2);
    const unknown = await cli('explode');
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toContain('unknown command "explode"');
    expect((await cli('crashes', '--limit', 'many')).code).toBe(2);
    expect((await cli('migrate', '--schema', 'Robert"); DROP')).stderr).toMatch(/Invalid option --schema/);
  });

  test('options out of range or empty are usage errors naming the option, --dry-run included (they were failures, or taken without a word)', async () => {
    const stale = await cli('recover', '--journal-dir', tempDir(), '--dry-run', '--stale-after', '2147000001');
    expect(stale).toMatchObject({ code: 2, stdout: '' });
    expect(stale.stderr).toContain('--stale-after expects at most 2147000000 ms');
    const empty = await cli('recover', '--journal-dir', '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--journal-dir expects a directory');
    const blank = await cli('recover', '--journal-dir', '  ');
    expect(blank).toMatchObject({ code: 2, stdout: '' });
    expect(blank.stderr).toContain('--journal-dir expects a directory, got "  "');
    const wait = await cli('migrate', '--dry-run', '--lock-wait', 'abc');
    expect(wait.code).toBe(2);
    expect(wait.stderr).toContain('--lock-wait');
    const database = await cli('migrate', '--dry-run', '--database', 'bogus');
    expect(database.code).toBe(2);
    expect(database.stderr).toContain('--database');
  });

  test('recover of a journal directory that is not there says so and exits 1 (it said "recovered 0 journals" and exited 0)', async () => {
    const missing = join(tempDir(), 'not-here');
    const result = await cli('recover', '--journal-dir', missing);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain(`otel-blackbox recover: no journal directory at ${missing}: check --journal-dir, OTEL_BLACKBOX_JOURNAL_DIR or the working directory`);
  });

  test('migrate creates the schema once, and --dry-run prints SQL without touching the database', async () => {
    const dry = await cli('migrate', '--schema', `${schema}_dry`, '--dry-run');
    expect(dry.stdout).toContain(`CREATE TABLE "${schema}_dry".spans`);
    expect(await db.count(`SELECT count(*) FROM pg_namespace WHERE nspname = $1`, [`${schema}_dry`])).toBe(0);
    expect((await cli('migrate', '--schema', schema)).stdout).toContain('applied migrations 1');
    expect((await cli('migrate', '--schema', schema)).stdout).toContain('is up to date');
  });

  test('migrate --dry-run prints a script a DBA can apply by hand, after which migrate has nothing to do', async () => {
    const byHand = `${schema}_by_hand`;
    await db.query(`DROP SCHEMA IF EXISTS "${byHand}" CASCADE`);
    const dry = await cli('migrate', '--schema', byHand, '--dry-run');
    expect(dry.code).toBe(0);
    await db.query(dry.stdout); // as psql -f would run it
    expect(await db.count(`SELECT count(*) FROM "${byHand}".migrations`)).toBeGreaterThan(3);
    expect((await cli('migrate', '--schema', byHand)).stdout).toContain('is up to date');
  });

  test('a database that refuses connections: exit 1, and the password is not printed', async () => {
    const result = await cli('migrate', '--database', 'postgres://otel:hunter2-secret@127.0.0.1:1/otel');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('127.0.0.1:1');
    expect(result.stderr + result.stdout).not.toContain('hunter2-secret');
  });

  test('a server that accepts connections and never answers: crashes, migrate and recover give up with exit 1 (PGCONNECT_TIMEOUT)', async () => {
    const silent = createServer((socket) => socket.on('error', () => {}).resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const database = `postgres://otel@127.0.0.1:${port}/otel`;
    try {
      for (const command of ['crashes', 'migrate']) {
        const result = await runCli({ PGCONNECT_TIMEOUT: '1' }, command, '--database', database);
        expect({ command, code: result.code }).toEqual({ command, code: 1 });
        expect(result.stderr).toMatch(/timeout/i);
      }
      // recover's exporter waited its own 10 s for each connection, whatever PGCONNECT_TIMEOUT said.
      const journalDir = join(tempDir(), 'journal');
      writeDeadJournal(journalDir, 3);
      const recover = await runCli({ PGCONNECT_TIMEOUT: '1' }, 'recover', '--journal-dir', journalDir, '--database', database, '--recover-any-destination');
      expect(recover.code).toBe(1);
      expect(recover.stderr).toContain('no connection within 1000 ms, connectionTimeoutMillis');
    } finally {
      silent.close();
    }
  }, 30_000);

  test('migrate behind a long reader: gives up after --lock-wait having changed nothing, exit 1, and says so', async () => {
    const behind = `${schema}_behind`;
    const result = await migrateBehindReaderOfSpans(behind, 2);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nothing was changed');
    expect(await db.count(`SELECT count(*) FROM "${behind}".migrations`)).toBe(2);
    expect((await cli('migrate', '--schema', behind, '--lock-wait', 'soon')).code).toBe(2);
    expect((await cli('migrate', '--schema', behind)).stdout).toContain('applied migrations 3, 4, 5');
  });

  // Migrations a writer does without go each in a transaction of its own: behind a reader of
  // spans, migrations 9 and 11 fail and 8 and 10 are applied. It said "nothing was changed" (a review).
  test('migrate behind a long reader of spans, from 7: applies 8 and 10, exit 1, naming 9 and 11 and not saying nothing changed', async () => {
    const behind = `${schema}_behind_spans`;
    const result = await migrateBehindReaderOfSpans(behind, 7);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('applied migrations 8, 10; migration 9 (error_spans_index), 11 (crashes_by_end_index) not applied');
    expect(result.stderr).toContain('another session held one of its tables longer than --lock-wait; run it again');
    expect(result.stderr).not.toContain('nothing was changed');
    expect((await cli('migrate', '--schema', behind)).stdout).toContain('applied migrations 9, 11');
  });

  test("migrate behind another process's migration, with a role's lock_timeout: says another process is migrating, without the table-lock hint", async () => {
    const under = `${schema}_under_way`;
    await db.query(`DROP SCHEMA IF EXISTS "${under}" CASCADE`);
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT pg_advisory_xact_lock($1, $2)', migrationLock(under));
      const url = new URL(db.url);
      url.searchParams.set('options', '-c lock_timeout=300');
      const result = await runCli({ DATABASE_URL: url.toString() }, 'migrate', '--schema', under);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`another process is migrating schema "${under}"`);
      expect(result.stderr).toContain('run it again once that migration has ended');
      expect(result.stderr).not.toContain('--lock-wait');
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
  });

  test('a reader that closes the pipe early (| head): exit 0, no EPIPE stack', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/otel-blackbox.cjs'), 'migrate', '--dry-run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // A command that fails still says so in its exit status, though nobody reads its output.
    const failing = spawn(process.execPath, [join(import.meta.dirname, '../../bin/otel-blackbox.cjs'), 'crashes', '--database', 'postgres://otel@127.0.0.1:1/otel'], { stdio: ['ignore', 'pipe', 'pipe'] });
    failing.stdout.destroy();
    failing.stderr.destroy();
    expect(((await once(failing, 'exit')) as [number | null])[0]).toBe(1);
  });

  test('recover, crashes and inspect on the journal of a killed process', async () => {
    const dir = tempDir();
    const journalDir = join(dir, 'journal');
    const child = runFixture(fixture, { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir, LEDGER: join(dir, 'ledger'), SERVICE: 'cli-service' });
    await child.ready;
    child.child.kill('SIGKILL');
    await child.exited;

    const [writer] = readdirSync(journalDir);
    const segment = join(journalDir, writer, segmentNames(join(journalDir, writer))[0]);
    const inspect = await cli('inspect', segment);
    expect(inspect.code).toBe(0);
    const records = inspect.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(records[0]).toMatchObject({ offset: 8, type: 'SEGMENT_HEADER', record: { pid: child.child.pid } });
    expect(records.filter((r) => r.type === 'SPAN_START').map((r) => r.record.n)).toContain('call payment gateway');

    const recover = await cli('recover', '--journal-dir', journalDir, '--schema', schema, '--json');
    expect(recover.code).toBe(0);
    expect(JSON.parse(recover.stdout)).toMatchObject({ journals: 1, spansCrashed: 3, failures: [] });

    const crashes = await cli('crashes', '--schema', schema, '--json', '--limit', '50');
    const rows = crashes.stdout.trim().split('\n').map((line) => JSON.parse(line));
    const ours = rows.filter((row) => row.service_name === 'cli-service');
    expect(ours.map((row) => row.name).sort()).toEqual(['POST /checkout', 'call payment gateway', 'charge card']);
    expect(ours[0].crash_reason).toMatch(/^process vanished; last heartbeat at/);
  });

  test("recover's summary counts the log records it stored (it said 0 ended spans, 0 crash records, and nothing of them)", async () => {
    const journalDir = join(tempDir(), 'journal');
    const child = runFixture(join(import.meta.dirname, '../fixtures/logsThenKilled.mjs'), { DATABASE_URL: db.url, SCHEMA: schema, JOURNAL_DIR: journalDir });
    await child.ready;
    child.child.kill('SIGKILL');
    await child.exited;
    const recover = await cli('recover', '--journal-dir', journalDir, '--schema', schema);
    expect(recover.code).toBe(0);
    expect(recover.stdout).toMatch(/^recovered 1 journals \(1 segments\): 1 ended spans, 0 crash records, 3 log records; 0 corrupt/);
    const stored = await db.query(`SELECT count(*)::int AS n FROM "${schema}".logs WHERE service_name = 'logs-then-killed' AND kind = 'log'`);
    expect(stored).toEqual([{ n: 3 }]);
  });

  test('inspect shows a torn tail and exits 3', async () => {
    const { writeFileSync } = await import('node:fs');
    const { SEGMENT_MAGIC, encodeFrame } = await import('../../src/journal/frame.js');
    const path = join(tempDir(), 'torn.seg');
    const frame = encodeFrame(5, JSON.stringify({ ms: 1 }));
    writeFileSync(path, Buffer.concat([SEGMENT_MAGIC, frame, frame.subarray(0, 5)]));
    const result = await cli('inspect', path);
    expect(result.code).toBe(3);
    expect(result.stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([
      { offset: 8, type: 'HEARTBEAT', record: { ms: 1 } },
      { offset: 8 + frame.length, torn: 5 },
    ]);
  });

  test('inspect prints a record nested deeper than JSON.stringify can go, cut to the depth the journal keeps, and the records around it (it printed nothing: "cannot read")', async () => {
    const { writeFileSync } = await import('node:fs');
    const { SEGMENT_MAGIC, encodeFrame } = await import('../../src/journal/frame.js');
    const path = join(tempDir(), 'deep.seg');
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const heartbeat = encodeFrame(5, JSON.stringify({ ms: 1 }));
    const nested = encodeFrame(5, deep);
    writeFileSync(path, Buffer.concat([SEGMENT_MAGIC, heartbeat, nested, heartbeat]));
    const result = await cli('inspect', path);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => [line.offset, line.type])).toEqual([
      [8, 'HEARTBEAT'],
      [8 + heartbeat.length, 'HEARTBEAT'],
      [8 + heartbeat.length + nested.length, 'HEARTBEAT'],
    ]);
    expect(JSON.stringify(lines[1].record)).toMatch(/^(\{"a":)+"\[Too deep\]"\}+$/);
  });

  test('inspect of a file that is not a segment says so and exits 1 (it printed the whole file as damaged, exit 3); a segment whose magic alone is damaged is still read', async () => {
    const { writeFileSync } = await import('node:fs');
    const { encodeFrame } = await import('../../src/journal/frame.js');
    const script = join(tempDir(), 'app.mjs');
    writeFileSync(script, "console.log('hello');\n".repeat(50));
    const notSegment = await cli('inspect', script);
    expect(notSegment).toMatchObject({ code: 1, stdout: '' });
    expect(notSegment.stderr).toContain(`${script} is not a journal segment: it does not begin with OTELBBJ1 and holds no record`);
    // Shorter than the magic (it said "torn: 3", exit 3); the start of the magic is still a torn head.
    const tiny = join(tempDir(), 'tiny');
    writeFileSync(tiny, 'hi\n');
    expect(await cli('inspect', tiny)).toMatchObject({ code: 1, stdout: '' });
    writeFileSync(tiny, 'OTEL');
    expect(await cli('inspect', tiny)).toMatchObject({ code: 3, stdout: '{"offset":0,"torn":4}\n' });

    const damagedMagic = join(tempDir(), 'damaged.seg');
    writeFileSync(damagedMagic, Buffer.concat([Buffer.from('XXXXXXXX'), encodeFrame(5, JSON.stringify({ ms: 1 }))]));
    const damaged = await cli('inspect', damagedMagic);
    expect(damaged.code).toBe(3);
    expect(damaged.stdout.trim().split('\n').map((line) => JSON.parse(line))).toEqual([
      { offset: 0, damaged: 8, reason: 'bad-magic' },
      { offset: 8, type: 'HEARTBEAT', record: { ms: 1 } },
    ]);
  });

  // `recover` leaves a newer format's journal alone, saying so; `inspect` read it as this
  // format and called it damaged, exit 3 (a review).
  test("inspect of a newer otel-blackbox's segment says so and exits 1, printing nothing", async () => {
    const { writeFileSync } = await import('node:fs');
    const { encodeFrame } = await import('../../src/journal/frame.js');
    const newer = join(tempDir(), 'newer.seg');
    writeFileSync(newer, Buffer.concat([Buffer.from('OTELBBJ2'), encodeFrame(5, JSON.stringify({ ms: 1 }))]));
    const magic = await cli('inspect', newer);
    expect(magic).toMatchObject({ code: 1, stdout: '' });
    expect(magic.stderr).toContain(`${newer} was written by a newer otel-blackbox (segment magic OTELBBJ2); this one cannot read it`);
    // This format's magic, and a header that says a later version.
    writeFileSync(newer, Buffer.concat([Buffer.from('OTELBBJ1'), encodeFrame(RecordType.SegmentHeader, JSON.stringify({ v: 2, createdMs: 1 }))]));
    const version = await cli('inspect', newer);
    expect(version).toMatchObject({ code: 1, stdout: '' });
    expect(version.stderr).toContain('(journal format version 2)');
  });

  test('inspect of a file of zeros or an empty one (a spare segment made ahead of rotation) says it holds no records, and exits 0', async () => {
    const { writeFileSync } = await import('node:fs');
    for (const [name, bytes] of [['spare.seg', 1 << 20], ['empty.seg', 0]] as const) {
      const path = join(tempDir(), name);
      writeFileSync(path, Buffer.alloc(bytes));
      const result = await cli('inspect', path);
      expect(result).toMatchObject({ code: 0, stdout: '' });
      expect(result.stderr).toContain(`${path} holds no records: an empty segment, or one made ahead of its rotation (all zeros)`);
    }
  });

  test('inspect of a file whose size reads as 0 but which holds bytes (procfs) says it is not a segment and exits 1 (it said "an empty segment", exit 0)', async () => {
    const result = await cli('inspect', '/proc/self/status');
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain('/proc/self/status is not a journal segment: its size reads as 0 bytes, yet it holds bytes (a /proc or /sys file?)');
  });

  test('--version prints the package version; every help lines its descriptions up in one column', async () => {
    const { version } = JSON.parse((await import('node:fs')).readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    expect(await cli('--version')).toMatchObject({ code: 0, stdout: `${version}\n` });
    // main() itself, as its help says, not only the bin script.
    const { main } = await import('../../src/cli/main.js');
    const out: string[] = [];
    expect(await main(['-V'], { out: (line) => out.push(line), err: () => {}, interactive: false })).toBe(0);
    expect(out).toEqual([version]);
    for (const command of ['migrate', 'recover', 'crashes', 'ui', 'prune']) {
      const { stdout } = await cli(command, '--help');
      const options = stdout.slice(stdout.indexOf('Options:')).split('\n').slice(1);
      // An option and its description on one line: the description starts at column 23.
      const described = options.map((line) => /^(  (?:-\w, |    )--[\w-]+(?: [A-Z]+)? +)(\S.*)$/.exec(line)).filter((match) => match !== null && !/^[A-Z]+$/.test(match[2]));
      const columns = described.map((match) => match![1].length);
      expect(columns.length, command).toBeGreaterThan(2);
      expect(new Set(columns), command).toEqual(new Set([23]));
    }
  });
});
