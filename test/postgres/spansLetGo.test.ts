// Under overload a batch waits on PostgreSQL for 100 ms and more. Spans kept through that
// wait outlive several scavenges and are promoted, and the old generation grows with them
// (bench/overload.mjs). Once the exporter has turned them into rows it must keep none of
// them: checked with weak references and a real collection while a real transaction is
// held up behind a table lock. Before this was fixed, every span was still alive here.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { exportWithLogs } from '../../src/export/exportWithLogs.js';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { collectFully, collector, lockTable, waitingOnLock } from '../helpers/heldBehindLock.js';
import { traceOf } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'spans_let_go', (name) => (schema = name));

/** Plain copies, so nothing but the export holds them (the SDK's own objects are shared with its provider). */
function copies(spans: ReadableSpan[]): ReadableSpan[] {
  return spans.map((span) => {
    const context = { ...span.spanContext() };
    return { ...span, spanContext: () => context, attributes: { ...span.attributes }, events: span.events.map((e) => ({ ...e })) };
  });
}

test('while its transaction waits on the database, the exporter (through exportWithLogs, as the processor calls it) holds none of the spans it made', async () => {
  const gc = collector();
  const applicationName = `spans-let-go-${process.pid}`;
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema, applicationName, maxConnections: 1, exportTimeoutMillis: 30_000 });
  const original = await traceOf(200, 'let-go');
  const lock = await lockTable(db, `"${schema}".spans`);
  try {
    const alive: WeakRef<ReadableSpan>[] = [];
    // As the processor exports a batch read back from its journal: the spans are made by a
    // function, anew each time the exporter asks.
    const made = () => {
      const spans = copies(original);
      for (const span of spans) alive.push(new WeakRef(span));
      return spans;
    };
    const outcome = exportWithLogs(exporter, undefined, made, original.length, undefined, 30_000);
    // The spans statement is waiting on the lock: the batch's rows are made and sent.
    await waitingOnLock(db, applicationName);
    await collectFully(gc);
    expect(alive.length).toBe(200); // made once: no record was refused
    expect(alive.filter((ref) => ref.deref() !== undefined).length).toBe(0);
    await lock.release();
    expect(await outcome).toEqual({ ok: true });
    const traceId = original[0].spanContext().traceId;
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [traceId])).toBe(200);
  } finally {
    await lock.end();
    await exporter.shutdown();
  }
});
