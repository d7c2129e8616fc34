// A recovery in a process of its own, which the torture run SIGKILLs at a random moment
// before it recovers the same journal again itself: "a crash during recovery loses
// nothing" (docs/guarantees.md, Crash records). Small batches, so a kill can land between them.
//
// Environment: DATABASE_URL, TORTURE_SCHEMA, TORTURE_JOURNAL_DIR, TORTURE_LIBRARY,
// TORTURE_RECOVERY_BATCH_SIZE. Prints READY before it starts, REPORT {json} when done.
import { writeSync } from 'node:fs';

const env = process.env;
const { PostgresSpanExporter, recoverJournals } = await import(env.TORTURE_LIBRARY ?? '../dist/esm/index.js');
const exporter = new PostgresSpanExporter({ connectionString: env.DATABASE_URL, schema: env.TORTURE_SCHEMA });
writeSync(1, 'READY\n');
const report = await recoverJournals({
  journalDir: env.TORTURE_JOURNAL_DIR,
  exporter,
  maxExportBatchSize: Number(env.TORTURE_RECOVERY_BATCH_SIZE ?? 64),
});
await exporter.shutdown();
writeSync(1, `REPORT ${JSON.stringify(report)}\n`);
