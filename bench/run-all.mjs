// `npm run bench`: runs every benchmark, each in a process of its own (so memory figures
// are its own), prints their lines as they come, and writes bench/RESULTS.md with the
// machine they ran on. Every figure is relative to a baseline measured in the same run.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseUrl } from './benchSupport.mjs';

const BENCHMARKS = [
  ['Processor overhead (ns added per span, vs the stock BatchSpanProcessor)', 'processor-overhead.mjs'],
  ['Exporter throughput (bulk vs one INSERT per span)', 'exporter-throughput.mjs'],
  ['End to end (tracer -> committed rows, vs naive exporter and COPY ceiling)', 'end-to-end.mjs'],
  ['Overload (producer outruns PostgreSQL: drops and memory)', 'overload.mjs'],
  ['Batch drain (event loop while a backlog drains into PostgreSQL, 512 and 2048-span batches, vs the stock BatchSpanProcessor)', 'batch-drain.mjs'],
  ['Outage (PostgreSQL unreachable while spans are produced)', 'outage.mjs'],
  ['Recovery (dead journal, 10% of spans open, small heap, inside a running application)', 'recovery.mjs'],
  ['Large records (a dead journal of 2 MiB spans read back, vs reading each segment whole)', 'large-records.mjs'],
  ['Damaged segment (garbage skipped by the chunked reader, vs a segment of records)', 'damaged-segment.mjs'],
  ['Open spans (longest span call while spans stay open, vs the stock BatchSpanProcessor)', 'open-spans.mjs'],
  ['Open burst (spans open at once, then ended: memory kept afterwards, vs the stock BatchSpanProcessor)', 'open-burst.mjs'],
  ['Dropped spans (spans never ended and dropped by the application: heap held, vs the stock BatchSpanProcessor)', 'dropped-spans.mjs'],
  ['One core (span calls with the process on one core, vs the stock BatchSpanProcessor)', 'one-core.mjs'],
  ['Log path (ns added per logger.emit(), vs the stock BatchLogRecordProcessor; log records/s into PostgreSQL)', 'log-path.mjs'],
  ["Slow disk (a 'host' journal on a disk whose syncs take 1.5 s: the application's thread-pool calls and shutdown, vs 'process')", 'slow-disk.mjs'],
];

function run(script) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(import.meta.dirname, script)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.on('exit', (code) => resolve({ output: output.trimEnd(), code }));
  });
}

async function postgresVersion() {
  const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
  try {
    return (await pool.query('SHOW server_version')).rows[0].server_version;
  } catch {
    return 'unreachable';
  } finally {
    await pool.end();
  }
}

const machine = [
  `- date: ${new Date().toISOString()}`,
  `- CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}; memory ${Math.round(totalmem() / 2 ** 30)} GiB; ${platform()} ${release()}`,
  `- Node.js ${process.version}; PostgreSQL ${await postgresVersion()} on the same host`,
];
const sections = [];
let failed = false;
for (const [title, script] of BENCHMARKS) {
  console.log(`\n## ${title}`);
  const { output, code } = await run(script);
  failed ||= code !== 0;
  sections.push(`## ${title}\n\n\`bench/${script}\`${code === 0 ? '' : ` — exited with code ${code}`}\n\n\`\`\`\n${output}\n\`\`\``);
}
writeFileSync(
  join(import.meta.dirname, 'RESULTS.md'),
  `# Benchmark results\n\nWritten by \`npm run bench\`. Each figure is compared with a baseline measured in the same run;` +
    ` where several rounds ran, the median is shown with min and max.\n\n${machine.join('\n')}\n\n${sections.join('\n\n')}\n`,
);
console.log('\nwrote bench/RESULTS.md');
if (failed) process.exitCode = 1;
