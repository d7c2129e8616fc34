// Recovery keeps several batches in flight while PostgreSQL commits them. Held as parsed
// spans, they were copied by every scavenge of the recovering application and promoted
// (bench/recovery.mjs: 141 MiB promoted per 200,000 spans, 24 once they were not). A
// batch in flight holds its records' bytes, and hands an exporter that takes one a
// function that makes the spans: checked with weak references and a real collection while
// a real transaction waits behind a table lock, then the rows.
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import type { SpansAndLogs, SpansAndLogsExporter } from '../../src/export/SpansAndLogs.js';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { collectFully, collector, lockTable, waitingOnLock } from '../helpers/heldBehindLock.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'recovery_let_go', (name) => (schema = name));

test('while a recovered batch waits on the database, recovery and the exporter hold none of its spans', async () => {
  const gc = collector();
  const applicationName = `recovery-let-go-${process.pid}`;
  const postgres = new PostgresSpanExporter({ connectionString: db.url, schema, applicationName, maxConnections: 1, exportTimeoutMillis: 30_000 });
  const alive: WeakRef<ReadableSpan>[] = [];
  const makers: string[] = [];
  // PostgresSpanExporter, with the spans it is handed made under our eyes.
  const watching: SpansAndLogsExporter = {
    takesSpanMaker: true,
    export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => postgres.export(spans, done),
    exportBatch: (batch: SpansAndLogs, done: (result: ExportResult) => void) => {
      const spans = batch.spans;
      makers.push(typeof spans);
      const made = () => {
        const list = typeof spans === 'function' ? spans() : spans;
        for (const span of list) alive.push(new WeakRef(span));
        return list;
      };
      postgres.exportBatch({ spans: made, logs: batch.logs }, done);
    },
    shutdown: () => postgres.shutdown(),
  };
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 300); // one batch: 270 ended, 30 crash records
  const lock = await lockTable(db, `"${schema}".spans`);
  try {
    const recovery = recoverJournals({ journalDir, exporter: watching });
    await waitingOnLock(db, applicationName);
    await collectFully(gc);
    expect(makers).toEqual(['function']);
    expect(alive.length).toBe(300); // made once: no record was refused
    expect(alive.filter((ref) => ref.deref() !== undefined).length).toBe(0);
    await lock.release();
    expect(await recovery).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
    const states = await db.pool.query(`SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`);
    expect(states.rows).toEqual([
      { state: 'crashed', n: dead.open },
      { state: 'ended', n: dead.ended },
    ]);
  } finally {
    await lock.end();
    await postgres.shutdown();
  }
});
