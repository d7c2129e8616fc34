// `npm run demo`: a service dies by SIGKILL in the middle of a request; its next start
// recovers the journal; the trace trees are printed from PostgreSQL with the crashed
// spans marked. Uses DATABASE_URL when set, otherwise an embedded PostgreSQL.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../scripts/embeddedPostgres.mjs';
import { printTraceTrees } from './traceTree.mjs';

const here = import.meta.dirname;
const schema = 'otel_demo';
const serviceName = 'checkout-service';
const say = (line = '') => console.log(line);

async function database() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  say('DATABASE_URL is not set: starting an embedded PostgreSQL ...');
  return startEmbeddedPostgres('demo');
}

function runService(mode, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', join(here, '../tracing.cjs'), join(here, 'service.cjs')], {
      env: { ...process.env, ...env, DEMO_MODE: mode },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('exit', (code, signal) => resolve({ code, signal, pid: child.pid }));
  });
}

const db = await database();
const pool = new pg.Pool({ connectionString: db.url });
const journalDir = mkdtempSync(join(tmpdir(), 'otel-blackbox-demo-journal-'));
try {
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const env = { DATABASE_URL: db.url, OTEL_BLACKBOX_SCHEMA: schema, OTEL_BLACKBOX_JOURNAL_DIR: journalDir, OTEL_SERVICE_NAME: serviceName };

  say('\n1. The checkout service handles three requests, then dies by SIGKILL in the middle of a checkout.');
  const crash = await runService('crash', env);
  say(`   pid ${crash.pid} ended by ${crash.signal ?? `exit code ${crash.code}`}: no exit handler ran, nothing was flushed.`);
  const left = readdirSync(journalDir);
  say(`   Its journal is still on disk: ${journalDir}/${left[0] ?? '(none)'}`);

  say('\n2. The service starts again. Its JournalSpanProcessor finds the dead journal and recovers it.');
  const restart = await runService('restart', env);
  if (restart.code !== 0) throw new Error(`the restarted service failed (${restart.code ?? restart.signal})`);
  say(`   Journal directory now: ${readdirSync(journalDir).length === 0 ? 'empty (recovered and removed)' : readdirSync(journalDir).join(', ')}`);

  say('\n3. The traces, read back from PostgreSQL:\n');
  const rows = await printTraceTrees(pool, schema, serviceName);
  const crashed = rows.filter((row) => row.state === 'crashed').length;
  say(`\n${rows.length} spans, ${crashed} of them crash records. Find them yourself with:`);
  say(`   SELECT name, crash_reason, end_time FROM ${schema}.spans WHERE state = 'crashed';`);
  if (crashed === 0) process.exitCode = 1;
} finally {
  await pool.end();
  rmSync(journalDir, { recursive: true, force: true });
  await db.stop();
}
