// `npm run torture -- [--runs N] [--modes sigkill,uncaught,abort,oom,shutdown] [--seed S] ...`:
// kills a traced workload at random moments many times, recovers each time, and checks
// PostgreSQL against the workload's own ledger. Prints one line per mode and a total;
// exits 1 if any span was lost, written twice or orphaned, or any other promise broke.
// Uses --database, else DATABASE_URL, else an embedded PostgreSQL started for the run.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { MODES, formatStats, isFailure, runTorture } from './runTorture.mjs';
import { startEmbeddedPostgres } from '../scripts/embeddedPostgres.mjs';

const HELP = `Usage: npm run torture -- [options]

Options:
      --runs N                   runs in all (default 500); SIGKILL takes 70% when other modes run too
      --modes LIST               comma-separated, of ${MODES.join(', ')} (default: all)
      --seed N                   seed of the run's random choices (default: random, printed)
      --concurrency N            children alive at once (default 1)
      --killed-recoveries SHARE  runs whose first recovery is a child SIGKILLed at a random moment (default 0.2)
      --host-durability SHARE    runs journaling with durability 'host' (default 0.2)
  -d, --database URL             PostgreSQL (default: DATABASE_URL, else an embedded server)
  -s, --schema NAME              schema for the run, dropped and created afresh (default otel_torture)
  -h, --help`;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '500' },
    modes: { type: 'string', default: MODES.join(',') },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '1' },
    'killed-recoveries': { type: 'string', default: '0.2' },
    'host-durability': { type: 'string', default: '0.2' },
    database: { type: 'string', short: 'd' },
    schema: { type: 'string', short: 's', default: 'otel_torture' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

function wholeNumber(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name}: expected a whole number, got ${JSON.stringify(text)}\n\n${HELP}`);
    process.exit(2);
  }
  return value;
}

function share(name, text) {
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) {
    console.error(`--${name}: expected a share between 0 and 1, got ${JSON.stringify(text)}\n\n${HELP}`);
    process.exit(2);
  }
  return value;
}

async function database() {
  const url = values.database ?? process.env.DATABASE_URL;
  if (url) return { url, stop: async () => {} };
  console.log('DATABASE_URL is not set: starting an embedded PostgreSQL ...');
  return startEmbeddedPostgres('torture');
}

const runs = wholeNumber('runs', values.runs);
const modes = values.modes.split(',').map((mode) => mode.trim()).filter(Boolean);
const seed = values.seed === undefined ? undefined : wholeNumber('seed', values.seed);
const concurrency = wholeNumber('concurrency', values.concurrency);
const schema = values.schema;
const killedRecoveryShare = share('killed-recoveries', values['killed-recoveries']);
const hostDurabilityShare = share('host-durability', values['host-durability']);

const db = await database();
try {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`--schema: expected a plain lowercase identifier, got ${JSON.stringify(schema)}`);
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await pool.end();
  }
  const started = Date.now();
  const result = await runTorture({ databaseUrl: db.url, schema, runs, modes, seed, concurrency, killedRecoveryShare, hostDurabilityShare, log: (line) => console.log(line) });
  console.log('');
  for (const [mode, stats] of Object.entries(result.byMode)) console.log(formatStats(mode, stats));
  console.log(formatStats('total', result.total));
  const { tried, killed } = result.killedRecoveries;
  console.log(`first recovery in a child killed at a random moment: ${tried} runs, ${killed} of them killed before it finished`);
  console.log(`seed ${result.seed}, ${((Date.now() - started) / 1000).toFixed(0)} s; rows are in schema ${schema}, one service.name per run`);
  if (isFailure(result.total)) {
    console.log(`FAILED: ${result.failures.length} runs broke the promise; their journals and ledgers are in ${result.failures[0]?.keptIn ?? '(not kept)'} and next to it`);
    process.exitCode = 1;
  }
} finally {
  await db.stop();
}
