// Recovery of a dead process's journal: SPANS spans, half ended (not yet committed) and
// half still open, written by a real child process that is then SIGKILLed. Times
// recoverJournals() from the first read to the last row committed, over several rounds.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
// BENCH_SPANS (100000), BENCH_ROUNDS (3).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PostgresSpanExporter, recoverJournals } from '../dist/esm/index.js';
import { migrateSchema } from '../dist/esm/postgres/migrate.js';
import { databaseUrl, fmt, summary } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const url = databaseUrl();
const schema = `bench_recovery_${process.pid}`;

async function deadJournal(journalDir) {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'fixtures/deadJournalWriter.mjs')], {
    env: { ...process.env, JOURNAL_DIR: journalDir, SPANS: String(SPANS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => String(chunk).includes('READY') && resolve());
    child.on('exit', (code) => reject(new Error(`journal writer exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

const pool = new pg.Pool({ connectionString: url, max: 2 });
const seconds = [];
let last;
try {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await migrateSchema(pool, schema);
  for (let round = 0; round < ROUNDS; round++) {
    await pool.query(`TRUNCATE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
    const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
    await deadJournal(join(dir, 'journal'));
    const exporter = new PostgresSpanExporter({ connectionString: url, schema });
    const started = performance.now();
    last = await recoverJournals({ journalDir: join(dir, 'journal'), exporter });
    seconds.push((performance.now() - started) / 1000);
    await exporter.shutdown();
    rmSync(dir, { recursive: true, force: true });
    const { rows } = await pool.query(`SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`);
    const byState = Object.fromEntries(rows.map((row) => [row.state, row.n]));
    if (byState.ended !== SPANS / 2 || byState.crashed !== SPANS / 2) throw new Error(`unexpected rows ${JSON.stringify(byState)}`);
  }
  const { median, min, max } = summary(seconds);
  console.log(`recovery: dead journal of ${fmt(SPANS)} spans (half ended, half open), ${ROUNDS} rounds`);
  console.log(
    `  recoverJournals: ${fmt(last.spansEnded)} ended + ${fmt(last.spansCrashed)} crash records committed in ${fmt(median, 2)} s ` +
      `(min ${fmt(min, 2)}, max ${fmt(max, 2)}) = ${fmt(SPANS / median)} spans/s; ${fmt(last.segments)} segments, ${fmt(last.tornBytes)} torn bytes`,
  );
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
