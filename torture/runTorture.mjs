// The crash-torture run: a traced workload (workload.mjs) is started in a child process
// again and again and killed at random moments; after each death its journal is recovered
// here, and PostgreSQL is held against the ledger the child kept of what it started and
// ended. The promise under test (docs/guarantees.md): every span that started is in PostgreSQL
// exactly once, as 'ended' if it ended and as a crash record if its process died first;
// no span without its trace row, no span event without its span.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { checkRun } from './checkRun.mjs';
import { MODES, planRuns } from './planRuns.mjs';
import { runChild } from './runChild.mjs';
import { addStats, emptyStats, formatStats, isFailure } from './runStats.mjs';
import { seededRandom } from './seededRandom.mjs';
import { snapshotLibrary } from './snapshotLibrary.mjs';

export { MODES, formatStats, isFailure };

/** Runs the CLI of the snapshot, as bin/otel-blackbox.cjs runs the one in dist/. */
const RUN_CLI = 'require(process.argv[1]).main(process.argv.slice(2)).then((code) => (process.exitCode = code))';
const WORKLOAD = new URL('./workload.mjs', import.meta.url).pathname;
const RECOVER_IN_CHILD = new URL('./recoverInChild.mjs', import.meta.url).pathname;
/** Findings printed per failing run; the rest are in its run.json. */
const FINDINGS_SHOWN = 10;

/**
 * @param {object} options
 * @param {string} options.databaseUrl
 * @param {string} options.schema created (migrated) if missing; runs are told apart by service.name
 * @param {number} [options.runs] with `modes` as names: how many runs in all
 * @param {readonly string[] | Record<string, number>} [options.modes] names (default all four,
 *   SIGKILL 70%), or runs per mode
 * @param {number} [options.seed] default: a random one, reported in the result
 * @param {number} [options.concurrency] children alive at once. Default 1.
 * @param {number} [options.killedRecoveryShare] share of runs whose journal is first
 *   recovered by a child SIGKILLed at a random moment. Default 0.2.
 * @param {number} [options.hostDurabilityShare] share of runs whose workload journals with
 *   durability 'host' (group commit) instead of 'process'. Default 0.2.
 * @param {string} [options.failuresDir] where a failing run's journal (as the child left it),
 *   ledger and findings are kept. Default `/tmp/torture-failures`.
 * @param {(line: string) => void} [options.log]
 */
export async function runTorture(options) {
  const { databaseUrl, schema, concurrency = 1, failuresDir = join(tmpdir(), 'torture-failures'), log = () => {} } = options;
  const shares = { killedRecovery: options.killedRecoveryShare ?? 0.2, hostDurability: options.hostDurabilityShare ?? 0.2 };
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema ?? '')) throw new Error(`schema: expected a plain lowercase identifier, got ${JSON.stringify(schema)}`);
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  const random = seededRandom(seed);
  const plan = planRuns({ runs: options.runs, modes: options.modes ?? MODES }, random);
  const runs = plan.map((mode, index) => ({ index: index + 1, mode, seed: random.seed() }));
  log(`torture: ${runs.length} runs, seed ${seed}, schema ${schema}`);

  // Children and recovery use one copy of the build, whatever happens to dist/ meanwhile.
  const library = snapshotLibrary();
  try {
    const { PostgresSpanExporter, recoverJournals } = await import(library.esmUrl);
    // The children inherit this environment and this copy of the library: the path they journal on.
    const { journalWritePath } = await import(new URL('journal/segmentFile/openSegmentFile.js', library.esmUrl).href);
    const { path, reason } = journalWritePath();
    log(`torture: journals written on the ${path === 'mmap' ? 'memory-mapped' : 'write(2)'} path${reason ? ` (${reason})` : ''}`);
    await promisify(execFile)(process.execPath, ['-e', RUN_CLI, library.cliMain, 'migrate', '--database', databaseUrl, '--schema', schema]);
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    pool.on('error', () => {});
    const exporter = new PostgresSpanExporter({ connectionString: databaseUrl, schema });
    try {
      const context = { databaseUrl, schema, pool, shares, library: library.esmUrl, failuresDir, recover: (journalDir) => recoverJournals({ journalDir, exporter }) };
      const { byMode, failures, killedRecoveries } = await runAll(runs, context, concurrency, log);
      const total = Object.values(byMode).reduce(addStats, emptyStats());
      await checkWholeSchema(pool, schema, total, failures);
      return { seed, byMode, total, killedRecoveries, failures };
    } finally {
      await exporter.shutdown();
      await pool.end();
    }
  } finally {
    library.remove();
  }
}

async function runAll(runs, context, concurrency, log) {
  const modes = MODES.filter((mode) => runs.some((run) => run.mode === mode));
  const byMode = Object.fromEntries(modes.map((mode) => [mode, emptyStats()]));
  const failures = [];
  // How often the first recovery ran in a child, and how often the kill caught it midway.
  const killedRecoveries = { tried: 0, killed: 0 };
  let done = 0;
  const next = runs[Symbol.iterator]();
  const worker = async () => {
    for (const run of next) {
      const result = await tortureOnce({ ...run, ...context });
      addStats(byMode[run.mode], result.stats);
      if (result.firstRecovery) {
        killedRecoveries.tried += 1;
        if (result.firstRecovery.killed) killedRecoveries.killed += 1;
      }
      done += 1;
      if (result.failure) {
        failures.push(result.failure);
        log(`FAIL run ${run.index} (${run.mode}, seed ${run.seed}): ${result.failure.findings.length} findings, kept in ${result.failure.keptIn}`);
        for (const finding of result.failure.findings.slice(0, FINDINGS_SHOWN)) log(`  ${finding}`);
      }
      if (done % 10 === 0 || done === runs.length) log(`torture: ${done}/${runs.length} runs`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { byMode, failures, killedRecoveries };
}

/** One run: start, kill, recover, check. Never throws for what it finds; it reports it. */
async function tortureOnce({ index, mode, seed, databaseUrl, schema, pool, shares, recover, library, failuresDir }) {
  const random = seededRandom(seed);
  const service = `torture-${mode}-${index}`;
  // The processor's settings vary from run to run, so kills meet small and large export
  // batches, idle and busy export loops, and segments that rotate often or never.
  const settings = {
    TORTURE_BATCH_SIZE: String(random.pick([16, 64, 128, 512])),
    TORTURE_DELAY_MS: String(random.pick([1, 5, 20, 50])),
    TORTURE_CONCURRENT_EXPORTS: String(random.int(1, 3)),
    TORTURE_SEGMENT_BYTES: String(random.pick([16 * 1024, 64 * 1024, 1024 * 1024, 8 * 1024 * 1024])),
    TORTURE_WORKERS: String(random.int(1, 4)),
    TORTURE_DIE_AFTER_MS: String(random.int(20, 400)),
    // 'host' adds group commit and a synchronous fdatasync on exit to the paths a kill meets.
    TORTURE_DURABILITY: random.chance(shares.hostDurability) ? 'host' : 'process',
    TORTURE_RECOVERY_BATCH_SIZE: String(random.pick([8, 64, 512])),
    // Span ids 1, 2, 3, ... in some runs: they repeat across runs' traces in one schema.
    TORTURE_SPAN_IDS: random.chance(0.3) ? 'counting' : 'random',
  };
  const killRecoveryAfterMillis = random.chance(shares.killedRecovery) ? random.int(0, 150) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'otel-blackbox-torture-'));
  const journalDir = join(dir, 'journal');
  const ledgerPath = join(dir, 'ledger.jsonl');
  // Problems seen here (how the child died, how recovery went); checkRun reports the rest.
  const problems = [];
  const problem = (text) => problems.push(text);
  let checkFindings = [];
  let stats = { ...emptyStats(), runs: 1 };
  let exit;
  let firstRecovery;
  let recovery;
  try {
    exit = await runChild({
      script: WORKLOAD,
      env: {
        ...settings,
        DATABASE_URL: databaseUrl,
        TORTURE_SCHEMA: schema,
        TORTURE_JOURNAL_DIR: journalDir,
        TORTURE_LEDGER: ledgerPath,
        TORTURE_SERVICE: service,
        TORTURE_MODE: mode,
        TORTURE_SEED: String(seed),
        TORTURE_LIBRARY: library,
      },
      nodeArgs: mode === 'oom' ? ['--max-old-space-size=32'] : [],
      killAfterMillis: mode === 'sigkill' ? Number(settings.TORTURE_DIE_AFTER_MS) : undefined,
    });
    const wrongExit = unexpectedExit(mode, exit);
    if (wrongExit) problem(wrongExit);
    const reported = libraryErrors(exit.stderr);
    if (reported) problem(`the library reported trouble in the child (disk and database were fine): ${reported}`);

    // Recovery removes the journal: keep it as the child left it, for a failing run's report.
    if (existsSync(journalDir)) cpSync(journalDir, join(dir, 'journal-as-left'), { recursive: true });
    let recoveredBefore = 0;
    if (killRecoveryAfterMillis !== undefined) {
      firstRecovery = await recoverInChild({ databaseUrl, schema, journalDir, library, settings, killAfterMillis: killRecoveryAfterMillis });
      if (firstRecovery.problem) problem(firstRecovery.problem);
      recoveredBefore = firstRecovery.report?.journals ?? 0;
    }
    recovery = await recover(journalDir);
    for (const failure of recovery.failures) problem(`recovery of ${failure.dir} failed: ${failure.error}`);
    // A recovery killed after it removed the journal leaves nothing to do, and says nothing.
    // A clean shutdown leaves nothing at all: the process wrote its crash records itself.
    const recovered = recoveredBefore + recovery.journals;
    if (mode === 'shutdown') {
      if (recovered > 0) problem(`recovery found ${recovered} journals after a clean shutdown, which removes its journal once its crash records are written`);
    } else if (recovered > 1 || (recovered === 0 && !firstRecovery?.killed)) {
      problem(`recovery found ${recovery.journals} dead journals (live: ${recovery.liveJournals}), after ${recoveredBefore} by a first recovery; expected 1 in all`);
    }
    const left = existsSync(journalDir) ? readdirSync(journalDir) : [];
    if (left.length > 0) problem(`journal directory not empty after recovery: ${left.join(', ')}`);

    const checked = await checkRun({ pool, schema, ledgerPath, service, mode });
    stats = checked.stats;
    checkFindings = checked.findings;
  } catch (error) {
    problem(`the run itself failed: ${error?.stack ?? error}`);
  }
  stats.problems += problems.length;
  const findings = [...problems, ...checkFindings];

  let failure;
  if (isFailure(stats)) {
    const keptIn = join(failuresDir, `${service}-seed-${seed}-${process.pid}`);
    failure = { run: index, mode, seed, service, findings, keptIn };
    try {
      mkdirSync(failuresDir, { recursive: true });
      writeFileSync(join(dir, 'run.json'), `${JSON.stringify({ ...failure, settings, killRecoveryAfterMillis, exit, firstRecovery, recovery, stats }, null, 2)}\n`);
      cpSync(dir, keptIn, { recursive: true });
    } catch (error) {
      findings.push(`could not keep the run in ${keptIn}: ${error.message}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { stats, failure, firstRecovery };
}

/** The first recovery, in a child killed `killAfterMillis` after it started (unless it finished first). */
async function recoverInChild({ databaseUrl, schema, journalDir, library, settings, killAfterMillis }) {
  const exit = await runChild({
    script: RECOVER_IN_CHILD,
    env: {
      DATABASE_URL: databaseUrl,
      TORTURE_SCHEMA: schema,
      TORTURE_JOURNAL_DIR: journalDir,
      TORTURE_LIBRARY: library,
      TORTURE_RECOVERY_BATCH_SIZE: settings.TORTURE_RECOVERY_BATCH_SIZE,
    },
    killAfterMillis,
  });
  const reported = /REPORT (.*)\n/.exec(exit.stdout);
  const report = reported ? JSON.parse(reported[1]) : undefined;
  const killed = exit.signal === 'SIGKILL' && report === undefined;
  let problem;
  if (report?.failures.length > 0) problem = `the first recovery failed: ${report.failures.map((failure) => failure.error).join('; ')}`;
  // Finished (the kill may still come between REPORT and exit), or killed midway: both fine.
  else if (report === undefined && !killed) problem = `the first recovery died with code ${exit.code}, signal ${exit.signal}: ${exit.stderr.trim().split('\n').slice(0, 8).join('\n    ')}`;
  return { killAfterMillis, killed, report, problem, code: exit.code, signal: exit.signal, stderr: exit.stderr };
}

/** A child that died of something other than its mode (or not at all) is a problem: the library must never take its host down. */
function unexpectedExit(mode, { ready, code, signal, hung, stderr }) {
  // The head says what happened (the error, the fatal OOM line); the stack below is noise.
  const head = stderr.trim().split('\n').slice(0, 8).join('\n    ');
  const how = `code ${code}, signal ${signal}${head ? `; stderr:\n    ${head}` : ''}`;
  if (hung) return `the child did not die within its time (${how})`;
  if (!ready) return `the child died before it said READY (${how})`;
  const expected = {
    sigkill: signal === 'SIGKILL',
    uncaught: code === 1 && stderr.includes('torture: uncaught exception'),
    abort: signal === 'SIGABRT',
    oom: /heap out of memory/i.test(stderr) && (signal !== null || code !== 0),
    shutdown: code === 0 && signal === null,
  }[mode];
  return expected ? undefined : `the child of mode ${mode} died with ${how}`;
}

/**
 * What the library said through diag (the child logs warnings and errors to stderr). In a
 * torture run nothing is wrong with the disk or the database, so any of it is a finding:
 * e.g. a journal that declares itself broken degrades to memory, and spans started then
 * have no crash protection.
 */
function libraryErrors(stderr) {
  const lines = stderr.split('\n').filter((line) => /^(otel-blackbox|PostgresSpanExporter)\b/.test(line));
  return lines.length === 0 ? undefined : lines.slice(0, 3).join(' | ');
}

/**
 * Once at the end, over the whole schema: duplicates and orphans that no run's scoped
 * check could see (rows under a trace id no ledger or service.name led to).
 */
async function checkWholeSchema(pool, schema, total, failures) {
  const q = `"${schema}"`;
  const [duplicates, orphanSpans, orphanLogs] = await Promise.all([
    pool.query(`SELECT coalesce(sum(n - 1), 0)::int AS n FROM (SELECT count(*) AS n FROM ${q}.spans GROUP BY trace_id, span_id HAVING count(*) > 1) d`),
    pool.query(`SELECT count(*)::int AS n FROM ${q}.spans s WHERE NOT EXISTS (SELECT 1 FROM ${q}.traces t WHERE t.trace_id = s.trace_id)`),
    pool.query(
      `SELECT count(*)::int AS n FROM ${q}.logs l WHERE NOT EXISTS (SELECT 1 FROM ${q}.spans s WHERE s.trace_id = l.trace_id AND s.span_id = l.span_id)`,
    ),
  ]);
  const extraDuplicates = duplicates.rows[0].n - total.duplicated;
  const extraOrphans = orphanSpans.rows[0].n + orphanLogs.rows[0].n - total.orphans;
  if (extraDuplicates > 0 || extraOrphans > 0) {
    total.duplicated += Math.max(0, extraDuplicates);
    total.orphans += Math.max(0, extraOrphans);
    failures.push({
      run: 0,
      mode: 'all',
      seed: undefined,
      service: undefined,
      findings: [`schema ${schema} has ${extraDuplicates} duplicated and ${extraOrphans} orphaned rows outside every run's traces`],
      keptIn: undefined,
    });
  }
}
