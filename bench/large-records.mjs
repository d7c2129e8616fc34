// Records of megabytes read back: a dead journal of SPANS spans, each with an attribute of
// PADDING_MIB MiB, half of them left open, written by a real child process then SIGKILLed.
// Baseline: every segment file read whole and parsed in one call (readSegment over the
// file's bytes: the format's own floor, memory unbounded). Then recoverJournals reads the
// same journal through the bounded chunked reader, behind an exporter that takes every
// batch at once, so the figure is the reading, not a database.
//
// Environment: BENCH_LARGE_SPANS (40), BENCH_PADDING_MIB (2), BENCH_ROUNDS (3).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recoverJournals } from '../dist/esm/index.js';
import { readSegment } from '../dist/esm/journal/readSegment.js';
import { fmt, summary, writeDeadJournal } from './benchSupport.mjs';

const SPANS = Number(process.env.BENCH_LARGE_SPANS ?? 40);
const PADDING_MIB = Number(process.env.BENCH_PADDING_MIB ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function segmentFiles(journalDir) {
  return readdirSync(journalDir).flatMap((writer) =>
    readdirSync(join(journalDir, writer))
      .filter((name) => name.endsWith('.seg'))
      .map((name) => join(journalDir, writer, name)),
  );
}

const wholeRates = [];
const chunkedRates = [];
let journalMiB = 0;
for (let round = 0; round < ROUNDS; round++) {
  const journalDir = join(mkdtempSync(join(tmpdir(), 'bench-large-')), 'journal');
  try {
    await writeDeadJournal(journalDir, { SPANS: String(SPANS), OPEN_EVERY: '2', PADDING_BYTES: String(PADDING_MIB * 1024 * 1024) });
    const files = segmentFiles(journalDir);
    const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);
    journalMiB = bytes / 1024 ** 2;

    let started = process.hrtime.bigint();
    let records = 0;
    for (const file of files) records += readSegment(readFileSync(file)).records.length;
    wholeRates.push(journalMiB / (Number(process.hrtime.bigint() - started) / 1e9));
    if (records < SPANS) throw new Error(`baseline read ${records} records, fewer than ${SPANS} spans`);

    let spans = 0;
    const exporter = { export: (batch, done) => ((spans += batch.length), done({ code: 0 })), shutdown: async () => {} };
    started = process.hrtime.bigint();
    const report = await recoverJournals({ journalDir, exporter });
    chunkedRates.push(journalMiB / (Number(process.hrtime.bigint() - started) / 1e9));
    if (spans !== SPANS || report.failures.length > 0) throw new Error(`recovered ${spans} of ${SPANS} spans (${report.failures.length} failures)`);
  } finally {
    rmSync(join(journalDir, '..'), { recursive: true, force: true });
  }
}

const whole = summary(wholeRates);
const chunked = summary(chunkedRates);
console.log(`large records: dead journal of ${SPANS} spans with a ${PADDING_MIB} MiB attribute each (half open), ${fmt(journalMiB, 0)} MiB, ${ROUNDS} round(s)`);
console.log(`  baseline: each segment read whole and parsed in one call      ${fmt(whole.median, 0)} MiB/s (min ${fmt(whole.min, 0)}, max ${fmt(whole.max, 0)})`);
console.log(`  recoverJournals, bounded chunks, exporter takes every batch   ${fmt(chunked.median, 0)} MiB/s (min ${fmt(chunked.min, 0)}, max ${fmt(chunked.max, 0)}) = ${fmt((100 * chunked.median) / whole.median, 0)}% of the baseline`);
