// shutdown() and forceFlush() in real child processes, ESM and CommonJS, where nothing
// but the awaited call can keep the process alive: the line after the await must run,
// the exit code must be the application's, the exporter must never see export() after
// its shutdown(), and the processor must say it gave up at its own deadline (that is
// what bounds the time, not a wall clock in the test).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'shutdown_in_child_process', (name) => (schema = name));

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The JSON printed after a label such as AFTER_SHUTDOWN, if the line was reached. */
  after(label: string): Record<string, number> | undefined;
}

function runChild(fixture: 'shutdownService.mjs' | 'shutdownService.cjs', env: Record<string, string>): Promise<ChildResult> {
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'fixtures', fixture)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) =>
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        after: (label) => {
          const match = new RegExp(`^${label} (.*)$`, 'm').exec(stdout);
          return match ? JSON.parse(match[1]) : undefined;
        },
      }),
    ),
  );
}

/** A server that accepts connections and never says a word, like a hung PostgreSQL. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port with nothing listening on it: the database is down. */
async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const modules = [
  { kind: 'ESM', fixture: 'shutdownService.mjs' as const },
  { kind: 'CommonJS', fixture: 'shutdownService.cjs' as const },
];

describe.each(modules)('$kind: await processor.shutdown() with an exporter that cannot finish', ({ fixture }) => {
  test.each(['failing', 'hanging'])('a %s exporter: the line after the await runs, exit 0, no export() after shutdown()', async (mode) => {
    const journalDir = join(tempDir(), 'journal');
    const result = await runChild(fixture, { EXPORTER: mode, JOURNAL_DIR: journalDir, FLUSH_TIMEOUT: '800' });
    expect(result.stderr).toContain('stop deadline passed');
    const after = result.after('AFTER_SHUTDOWN');
    expect(after, result.stderr).toBeDefined();
    expect(result.code).toBe(0);
    expect(after!.calls).toBeGreaterThan(0);
    expect(after!.callsAfterShutdown).toBe(0);
    expect(after!.spansExported).toBe(0);
    // The three ended spans stay in the journal for recovery.
    expect(readdirSync(journalDir)).toHaveLength(1);
    expect(result.stderr).not.toContain('export recovered');
  });

  test('forceFlush() with a failing exporter: settles at its timeout and the next line runs', async () => {
    const result = await runChild(fixture, { EXPORTER: 'failing', METHOD: 'forceFlush', JOURNAL_DIR: join(tempDir(), 'journal'), FLUSH_TIMEOUT: '800' });
    expect(result.stderr).toContain('forceFlush timed out after 800 ms');
    expect(result.after('AFTER_FORCE_FLUSH'), result.stderr).toBeDefined();
    expect(result.after('AFTER_SHUTDOWN')).toBeDefined();
    expect(result.code).toBe(0);
  });

  test('PostgresSpanExporter, database refusing connections: shutdown settles, exit 0', async () => {
    const port = await refusedPort();
    const result = await runChild(fixture, {
      EXPORTER: 'postgres',
      TARGET_URL: `postgres://postgres@127.0.0.1:${port}/none`,
      JOURNAL_DIR: join(tempDir(), 'journal'),
      FLUSH_TIMEOUT: '800',
    });
    expect(result.stderr).toContain('stop deadline passed');
    expect(result.after('AFTER_SHUTDOWN'), result.stderr).toBeDefined();
    expect(result.code).toBe(0);
  });

  test('PostgresSpanExporter with connectionTimeoutMillis 0, server accepts and never answers: settles and the process exits', async () => {
    const server = await silentServer();
    try {
      const result = await runChild(fixture, {
        EXPORTER: 'postgres',
        TARGET_URL: `postgres://postgres@127.0.0.1:${server.port}/none`,
        CONNECTION_TIMEOUT: '0',
        EXPORTER_TIMEOUT: '1000',
        EXPORT_TIMEOUT: '1000',
        JOURNAL_DIR: join(tempDir(), 'journal'),
        FLUSH_TIMEOUT: '800',
      });
      expect(result.stderr).toContain('stop deadline passed');
      expect(result.after('AFTER_SHUTDOWN'), result.stderr).toBeDefined();
      expect(result.code).toBe(0);
    } finally {
      await server.close();
    }
  });
});

test('behind a table lock: shutdown settles, and the abandoned batch frees its connection on the server while the lock is still held', async () => {
  const applicationName = `shutdown-lock-${process.pid}`;
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE "${schema}".spans IN ACCESS EXCLUSIVE MODE`);
    const result = await runChild('shutdownService.mjs', {
      EXPORTER: 'postgres',
      TARGET_URL: db.url,
      SCHEMA: schema,
      APPLICATION_NAME: applicationName,
      EXPORTER_TIMEOUT: '1000',
      EXPORT_TIMEOUT: '1000',
      JOURNAL_DIR: join(tempDir(), 'journal'),
      FLUSH_TIMEOUT: '800',
    });
    expect(result.after('AFTER_SHUTDOWN'), result.stderr).toBeDefined();
    expect(result.code).toBe(0);
    // The child is gone; its backend must not wait on our lock until we let go. Waits on the
    // condition (statement_timeout ends it); the test's own timeout is the bound.
    for (;;) {
      const waiting = await db.count(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, [applicationName]);
      if (waiting === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await locker.query('ROLLBACK');
    await locker.end();
  }
}, 30_000);

test('ESM exit with code 13 (unsettled top-level await) is recorded as code 13, not 0', async () => {
  const journalDir = join(tempDir(), 'journal');
  const result = await runChild('shutdownService.mjs', { EXPORTER: 'failing', METHOD: 'hang', OPEN_SPAN: '1', JOURNAL_DIR: journalDir });
  expect(result.code).toBe(13);
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report.spansCrashed).toBe(1);
  const crashed = exporter.spans.find((span) => span.name === 'still open');
  expect(crashed?.status.message).toContain('code 13');
});
