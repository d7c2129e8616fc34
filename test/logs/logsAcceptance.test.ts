// The logs signal end to end with real child processes and a real PostgreSQL: pino lines
// through NodeSDK and @opentelemetry/instrumentation-pino linked to their spans, a line
// right before SIGKILL stored with its span's crash record, a line outside any span,
// replay and double recovery changing nothing, no orphan log row at any moment, and an
// open span shown as 'started' while it runs, then ended in place.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/loggingService.cjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'logs_acceptance', (name) => (schema = name));

interface Child {
  child: ChildProcess;
  /** Resolves with the JSON after `word ` on stdout, or at the bare line `word`. */
  said(word: string): Promise<Record<string, string>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function start(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [FIXTURE], { env: { ...process.env, ...env, SCHEMA: schema, DATABASE_URL: db.url }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners: (() => void)[] = [];
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const said = (word: string) =>
    new Promise<Record<string, string>>((resolve, reject) => {
      const check = () => {
        const match = new RegExp(`^${word}(?: (.*))?$`, 'm').exec(stdout);
        if (match) resolve(match[1] ? JSON.parse(match[1]) : {});
      };
      listeners.push(check);
      check();
      void exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) before ${word}: ${stderr}`)));
    });
  return { child, said, exited, stderr: () => stderr };
}

const orphanCount = () =>
  db.count(
    `SELECT count(*) FROM "${schema}".logs l WHERE l.trace_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM "${schema}".spans s WHERE s.trace_id = l.trace_id AND s.span_id = l.span_id)`,
  );

const snapshot = (service: string) =>
  db.query(
    `SELECT t, row FROM (
       SELECT 'span' AS t, to_jsonb(s) - 'inserted_at' - 'updated_at' AS row FROM "${schema}".spans s WHERE service_name = $1
       UNION ALL SELECT 'log', to_jsonb(l) - 'inserted_at' FROM "${schema}".logs l WHERE service_name = $1) x
     ORDER BY t, row::text`,
    [service],
  );

async function recover(journalDir: string) {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    return await recoverJournals({ journalDir, exporter, staleAfterMillis: 1 });
  } finally {
    await exporter.shutdown();
  }
}

describe('logs acceptance', () => {
  it('stores pino lines with their spans, the last line before SIGKILL with the crash record, and never an orphan log row', async () => {
    const journalDir = join(tempDir(), 'journal');
    const service = 'pino-sigkill';
    const app = start({ JOURNAL_DIR: journalDir, SERVICE: service, REQUESTS: '20' });
    // Read the tables over and over while the workload runs and while it is recovered.
    let watching = true;
    let checks = 0;
    const orphansSeen: number[] = [];
    const watcher = (async () => {
      while (watching) {
        orphansSeen.push(await orphanCount());
        checks += 1;
      }
    })();
    try {
      const { job, trace } = await app.said('READY');
      app.child.stdin!.write('last-words\n');
      await app.said('LOGGED');
      app.child.kill('SIGKILL');
      expect((await app.exited).signal).toBe('SIGKILL');

      // Replayed twice: a copy of the dead journal is recovered after the original.
      const copyDir = join(tempDir(), 'journal-copy');
      mkdirSync(copyDir);
      for (const name of readdirSync(journalDir)) cpSync(join(journalDir, name), join(copyDir, name), { recursive: true });

      const first = await recover(journalDir);
      expect(first).toMatchObject({ journals: 1, spansCrashed: 1 });
      expect(first.logRecords).toBeGreaterThanOrEqual(1);
      const rows = await snapshot(service);

      const [crash] = await db.query(
        `SELECT s.state, s.name, s.crash_reason, array_agg(l.body #>> '{}' ORDER BY l.time_unix_nano, l.sequence) AS lines,
                array_agg(l.severity_text ORDER BY l.time_unix_nano, l.sequence) AS levels
           FROM "${schema}".spans s JOIN "${schema}".logs l USING (trace_id, span_id)
          WHERE s.trace_id = $1 AND s.span_id = $2 AND l.kind = 'log' GROUP BY 1, 2, 3`,
        [trace, job],
      );
      expect(crash).toMatchObject({ state: 'crashed', name: 'nightly job', lines: ['job started', 'about to die'], levels: ['info', 'error'] });
      expect(crash!.crash_reason).toMatch(/vanished/);
      // The last line is a sign of life: the crash record's estimated end is not before it.
      const [times] = await db.query(
        `SELECT s.end_time_unix_nano::numeric >= max(l.time_unix_nano)::numeric AS ends_after_last_line FROM "${schema}".spans s
           JOIN "${schema}".logs l USING (trace_id, span_id) WHERE s.span_id = $1 AND l.kind = 'log' GROUP BY s.end_time_unix_nano`,
        [job],
      );
      expect(times).toEqual({ ends_after_last_line: true });

      const requests = await db.query(
        `SELECT s.state, l.body #>> '{}' AS line, l.attributes ->> 'request' AS request FROM "${schema}".spans s
           JOIN "${schema}".logs l USING (trace_id, span_id) WHERE s.service_name = $1 AND s.name = 'GET /orders' AND l.kind = 'log'`,
        [service],
      );
      expect(requests).toHaveLength(20);
      expect(new Set(requests.map((r) => r.state))).toEqual(new Set(['ended']));
      expect(requests.map((r) => r.line).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `serving request ${i}`).sort());

      const outside = await db.query(`SELECT trace_id, span_id, severity_text FROM "${schema}".logs WHERE service_name = $1 AND body = '"outside any span"'`, [service]);
      expect(outside).toEqual([{ trace_id: null, span_id: null, severity_text: 'warn' }]);

      // `otel-blackbox crashes` prints each crash's last log lines under it.
      const table = await runCli({ DATABASE_URL: db.url }, 'crashes', '--schema', schema, '--lines', '1', '--process-lines', '0');
      expect(table.code).toBe(0);
      const crashLine = table.stdout.split('\n').findIndex((line) => line.includes('nightly job'));
      expect(crashLine).toBeGreaterThanOrEqual(0);
      expect(table.stdout.split('\n')[crashLine + 1]).toMatch(/^ {4}\S+ {2}error {2}about to die {2}\[@opentelemetry\/instrumentation-pino \S+\]$/);
      expect(table.stdout).not.toContain('job started');
      // The process's own last lines: the pino line logged outside any span among them.
      const withProcess = await runCli({ DATABASE_URL: db.url }, 'crashes', '--schema', schema, '--lines', '1', '--process-lines', '3');
      const processLines = withProcess.stdout.split('\n');
      const told = processLines.findIndex((line) => /^ {2}its process \(journal writer \S+\) logged last:$/.test(line));
      expect(processLines.slice(told + 1, told + 4).map((line) => line.replace(/^ {4}\S+ {2}/, '').replace(/ {2}\[@opentelemetry\/instrumentation-pino \S+\]$/, ''))).toEqual([
        'warn  outside any span',
        'info  job started',
        'error  about to die',
      ]);
      const json = await runCli({ DATABASE_URL: db.url }, 'crashes', '--schema', schema, '--json');
      const record = json.stdout.trim().split('\n').map((line) => JSON.parse(line)).find((r) => r.span_id === job);
      expect(record.log_lines.map((l: { severity_text: string; body: unknown }) => [l.severity_text, l.body])).toEqual([
        ['info', 'job started'],
        ['error', 'about to die'],
      ]);

      const again = await recover(copyDir);
      expect(again).toMatchObject({ journals: 1, spansCrashed: 1 });
      expect(await recover(journalDir)).toMatchObject({ journals: 0 });
      expect(await snapshot(service)).toEqual(rows);
    } finally {
      watching = false;
      await watcher;
      app.child.kill('SIGKILL');
    }
    expect(checks).toBeGreaterThan(5);
    expect(orphansSeen.filter((n) => n > 0)).toEqual([]);
  });

  it("shows an open span as 'started' within pendingSpanMillis plus one batch delay, then ends it in place", async () => {
    const journalDir = join(tempDir(), 'journal');
    const service = 'pending-span';
    const app = start({ JOURNAL_DIR: journalDir, SERVICE: service, REQUESTS: '1', PENDING_SPAN_MILLIS: '300', QUIET_JOB: '1' });
    try {
      const { job } = await app.said('READY');
      const row = async () => (await db.query(`SELECT state, name, end_time FROM "${schema}".spans WHERE span_id = $1`, [job]))[0];
      // pendingSpanMillis (300) plus one scheduled delay (50) is the bound; poll for it.
      await expect.poll(row, { timeout: 10_000, interval: 25 }).toMatchObject({ state: 'started', name: 'nightly job', end_time: null });
      app.child.stdin!.write('end-job\n');
      await app.said('ENDED');
      expect(await row()).toMatchObject({ state: 'ended', name: 'nightly job', end_time: expect.any(Date) });
      expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE span_id = $1`, [job])).toBe(1);
    } finally {
      app.child.kill('SIGKILL');
      await app.exited;
    }
  });
});
