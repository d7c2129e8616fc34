// Recovery of a dead process's journal inside a running application with a small heap:
// SPANS spans, one in OPEN_EVERY left open, written by a real child process while the
// database was unreachable (so nothing is committed), then SIGKILLed. Another child,
// started with --max-old-space-size=HEAP_MIB, recovers it while a 1 ms timer runs, and
// reports the time, its peak RSS and the longest event-loop stall. Every row is checked.
// Then the recovered rows themselves are COPYed back into the emptied tables in one
// transaction: the database's ceiling for exactly these rows, indexes and all.
//
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
// BENCH_SPANS (400000), BENCH_OPEN_EVERY (10), BENCH_HEAP_MIB (160), BENCH_ROUNDS (1).
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { migrateSchema } from '../dist/esm/postgres/migrate.js';
import { databaseUrl, fmt, machineCpu, ownCpu, summary, writeDeadJournal } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_SPANS ?? 400_000);
const OPEN_EVERY = Number(process.env.BENCH_OPEN_EVERY ?? 10);
const HEAP_MIB = Number(process.env.BENCH_HEAP_MIB ?? 160);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const OPEN = Math.ceil(SPANS / OPEN_EVERY);
const url = databaseUrl();
const schema = `bench_recovery_${process.pid}`;

function journalBytes(journalDir) {
  let bytes = 0;
  for (const writer of readdirSync(journalDir)) {
    for (const name of readdirSync(join(journalDir, writer))) bytes += statSync(join(journalDir, writer, name)).size;
  }
  return bytes;
}

const TABLES = ['traces', 'spans', 'logs'];

/**
 * Seconds to COPY the recovered rows back into the emptied tables in one transaction, and
 * the CPU seconds the rest of the machine spent meanwhile: PostgreSQL's, mostly (the
 * machine's other services idle), so about the least the database spends on these rows,
 * whoever sends them.
 */
async function copyCeiling(dir) {
  const client = await pool.connect();
  try {
    for (const table of TABLES) {
      await pipeline(client.query(copyStreams.to(`COPY "${schema}".${table} TO STDOUT`)), createWriteStream(join(dir, `${table}.copy`)));
    }
    await client.query(`TRUNCATE ${TABLES.map((table) => `"${schema}".${table}`).join(', ')}`);
    const machineBefore = machineCpu();
    const ownBefore = ownCpu();
    const started = performance.now();
    await client.query('BEGIN');
    for (const table of TABLES) {
      await pipeline(createReadStream(join(dir, `${table}.copy`)), client.query(copyStreams.from(`COPY "${schema}".${table} FROM STDIN`)));
    }
    await client.query('COMMIT');
    const seconds = (performance.now() - started) / 1000;
    return { seconds, databaseCpuSeconds: machineCpu().busy - machineBefore.busy - (ownCpu() - ownBefore) };
  } finally {
    client.release();
  }
}

function recoverInApp(journalDir) {
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MIB}`, join(import.meta.dirname, 'fixtures/recoveringApp.mjs')], {
    env: { ...process.env, JOURNAL_DIR: journalDir, DATABASE_URL: url, SCHEMA: schema },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  return new Promise((resolve, reject) =>
    child.on('exit', (code, signal) => {
      const match = /RESULT (.*)\n/.exec(output);
      if (code === 0 && match) resolve(JSON.parse(match[1]));
      else reject(new Error(`recovering application died (${code ?? signal}) with --max-old-space-size=${HEAP_MIB}`));
    }),
  );
}

const pool = new pg.Pool({ connectionString: url, max: 2 });
const rounds = [];
const ceilings = [];
let bytes = 0;
try {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await migrateSchema(pool, schema);
  for (let round = 0; round < ROUNDS; round++) {
    await pool.query(`TRUNCATE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
    const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-bench-'));
    try {
      await writeDeadJournal(join(dir, 'journal'), { SPANS: String(SPANS), OPEN_EVERY: String(OPEN_EVERY) });
      bytes = journalBytes(join(dir, 'journal'));
      rounds.push(await recoverInApp(join(dir, 'journal')));
      const { rows } = await pool.query(`SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`);
      const byState = Object.fromEntries(rows.map((row) => [row.state, row.n]));
      if (byState.ended !== SPANS - OPEN || byState.crashed !== OPEN) throw new Error(`unexpected rows ${JSON.stringify(byState)}`);
      ceilings.push(await copyCeiling(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const { median, min, max } = summary(rounds.map((r) => r.seconds));
  const last = rounds.at(-1);
  console.log(`recovery: dead journal of ${fmt(SPANS)} spans (${fmt(OPEN)} open), ${fmt(bytes / 2 ** 20)} MiB, recovered inside a running application with --max-old-space-size=${HEAP_MIB}, ${ROUNDS} round(s)`);
  console.log(
    `  recoverJournals: ${fmt(last.report.spansEnded)} ended + ${fmt(last.report.spansCrashed)} crash records committed in ${fmt(median, 2)} s ` +
      `(min ${fmt(min, 2)}, max ${fmt(max, 2)}) = ${fmt(SPANS / median)} spans/s; ${fmt(last.report.segments)} segments; every row checked`,
  );
  console.log(
    `  recovering application: peak RSS ${fmt(Math.max(...rounds.map((r) => r.peakRssMiB)))} MiB (at start ${fmt(last.startRssMiB)} MiB); ` +
      `longest event-loop stall ${fmt(Math.max(...rounds.map((r) => r.maxStallMs)), 1)} ms (p99 ${fmt(last.p99StallMs, 1)} ms); ` +
      `longest GC pause ${fmt(Math.max(...rounds.map((r) => r.maxGcMs)), 1)} ms`,
  );
  // Where the CPU went: recovery keeps both cores busy, so a rate above what the cores give
  // at this many microseconds a span needs less CPU somewhere, not more parallelism.
  const ownMicros = (last.ownCpuSeconds / SPANS) * 1e6;
  const othersMicros = ((last.machineCpuSeconds - last.ownCpuSeconds) / SPANS) * 1e6;
  console.log(
    `  CPU per span: ${fmt(ownMicros, 1)} µs in the recovering process, ${fmt(othersMicros, 1)} µs in the rest of the machine (PostgreSQL); ` +
      `${fmt((last.machineCpuSeconds / (last.seconds * last.cores)) * 100)}% of ${last.cores} cores busy, ${fmt((last.stolenCpuSeconds / (last.seconds * last.cores)) * 100)}% stolen by the hypervisor -> ` +
      `at most ${fmt((last.cores * 1e6) / (ownMicros + othersMicros))} spans/s on them`,
  );
  const copy = summary(ceilings.map((ceiling) => SPANS / ceiling.seconds));
  console.log(
    `  ceiling: COPY of the recovered rows into the emptied tables, one transaction: ${fmt(copy.median)} spans/s; ` +
      `recovery ${fmt((SPANS / median / copy.median) * 100)}% of it`,
  );
  // What any writer of these rows must leave to the database: the COPY's CPU is the least
  // PostgreSQL spends on them. A rate whose database share alone needs more cores than the
  // machine has is out of reach here, however little the recovering process does.
  const copyMicros = (Math.min(...ceilings.map((ceiling) => ceiling.databaseCpuSeconds)) / SPANS) * 1e6;
  console.log(
    `  database floor: the COPY cost the rest of the machine (PostgreSQL, mostly) ${fmt(copyMicros, 1)} µs of CPU per span (recovery's statements ${fmt(othersMicros, 1)}); ` +
      `at 50,000 spans/s that alone is ${fmt((50_000 * copyMicros) / 1e6, 2)} of the ${last.cores} cores`,
  );
} finally {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
