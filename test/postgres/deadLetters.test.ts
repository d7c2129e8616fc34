// A record PostgreSQL refuses for good goes to dead_letters alone; the rest of its batch
// commits and the export succeeds.
import { randomBytes } from 'node:crypto';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, ids, traceOf, withAttributes } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('dead_letters');
  await migrateSchema(db.pool, schema);
  // Stands in for any value PostgreSQL refuses for one record (SQLSTATE class 23).
  await db.query(`ALTER TABLE "${schema}".spans ADD CONSTRAINT no_poison CHECK (NOT attributes ? 'poison')`);
  // Class 54 (program limit): an index entry too big to store.
  await db.query(`CREATE INDEX spans_status_message_idx ON "${schema}".spans (status_message)`);
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

function poisoned(span: ReadableSpan): ReadableSpan {
  return withAttributes(span, { ...span.attributes, poison: true });
}

async function countIn(table: string, traceId: string): Promise<number> {
  return db.count(`SELECT count(*) FROM "${schema}".${table} WHERE trace_id = $1`, [traceId]);
}

describe('dead letters', () => {
  it('stores the one refused span with its SQLSTATE and commits the other 99', async () => {
    const spans = await traceOf(100, 'poison');
    const victim = spans[37]!;
    const batch = spans.map((s) => (s === victim ? poisoned(s) : s));
    const { traceId, spanId } = ids(victim);

    expect(await exportSpans(exporter, batch)).toEqual({ code: ExportResultCode.SUCCESS });

    expect(await countIn('spans', traceId)).toBe(99);
    expect(await countIn('logs', traceId)).toBe(99);
    expect(await countIn('traces', traceId)).toBe(1);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE span_id = $1`, [spanId])).toBe(0);
    const letters = await db.query(`SELECT * FROM "${schema}".dead_letters WHERE trace_id = $1`, [traceId]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ span_id: spanId, sql_state: '23514', attempts: 1 });
    expect(letters[0]!.error_message).toContain('no_poison');
    expect(letters[0]!.record).toMatchObject({ traceId, spanId, name: victim.name, attributes: { poison: true } });
    expect(letters[0]!.record.events).toHaveLength(1);
  });

  it('makes the spans again, from the function that made them, to isolate a refused one (the processor\'s batches)', async () => {
    const spans = await traceOf(50, 'poison-made');
    const victim = spans[11]!;
    let made = 0;
    const batch = {
      spans: () => {
        made += 1;
        return spans.map((s) => (s === victim ? poisoned(s) : s));
      },
      logs: [],
    };
    const result = await new Promise((resolve) => exporter.exportBatch(batch, resolve));
    expect(result).toEqual({ code: ExportResultCode.SUCCESS });
    // Once for the first attempt; the rows were let go, so once more to isolate the refused span.
    expect(made).toBe(2);
    const { traceId, spanId } = ids(victim);
    expect(await countIn('spans', traceId)).toBe(49);
    const letters = await db.query(`SELECT * FROM "${schema}".dead_letters WHERE trace_id = $1`, [traceId]);
    expect(letters.map((l) => [l.span_id, l.sql_state])).toEqual([[spanId, '23514']]);
  });

  it('keeps one dead_letters row when the poison record is replayed', async () => {
    const spans = await traceOf(4, 'replayed-poison');
    const batch = [poisoned(spans[0]!), ...spans.slice(1)];
    const { traceId } = ids(spans[0]!);

    expect((await exportSpans(exporter, batch)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportSpans(exporter, batch)).code).toBe(ExportResultCode.SUCCESS);

    const letters = await db.query(`SELECT attempts FROM "${schema}".dead_letters WHERE trace_id = $1`, [traceId]);
    expect(letters).toEqual([{ attempts: 2 }]);
    expect(await countIn('spans', traceId)).toBe(3);
  });

  it('isolates every refused record of a batch, of different kinds', async () => {
    const spans = await traceOf(64, 'several');
    // Random text does not compress below btree's limit of about 2.7 kB per entry.
    const huge = withAttributes(spans[5]!, spans[5]!.attributes, { status: { code: 2, message: randomBytes(4000).toString('base64') } });
    const batch = spans.map((s, i) => (i === 5 ? huge : i === 0 || i === 63 ? poisoned(s) : s));
    const { traceId } = ids(spans[0]!);

    expect(await exportSpans(exporter, batch)).toEqual({ code: ExportResultCode.SUCCESS });

    expect(await countIn('spans', traceId)).toBe(61);
    const letters = await db.query(`SELECT span_id, sql_state FROM "${schema}".dead_letters WHERE trace_id = $1 ORDER BY sql_state`, [traceId]);
    expect(letters.map((l) => l.sql_state)).toEqual(['23514', '23514', '54000']);
    expect(letters.map((l) => l.span_id).sort()).toEqual([0, 5, 63].map((i) => ids(spans[i]!).spanId).sort());
  });

  it('dead-letters, with the reason, a span that cannot even be made a row (a getter that throws), and commits the rest', async () => {
    const spans = await traceOf(20, 'unreadable');
    const victim = spans[5]!;
    const unreadable = withAttributes(victim, victim.attributes);
    Object.defineProperty(unreadable, 'status', {
      get() {
        throw new Error('status is not readable (test)');
      },
    });
    const { traceId, spanId } = ids(victim);
    const before = exporter.deadLettered;

    expect(await exportSpans(exporter, spans.map((s) => (s === victim ? unreadable : s)))).toEqual({ code: ExportResultCode.SUCCESS });

    expect(await countIn('spans', traceId)).toBe(19);
    const letters = await db.query(`SELECT * FROM "${schema}".dead_letters WHERE trace_id = $1`, [traceId]);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ span_id: spanId, sql_state: null, record: null });
    expect(letters[0]!.error_message).toContain('status is not readable (test)');
    expect(exporter.deadLettered).toBe(before + 1);

    // A batch of nothing else: no rows, the dead letter alone.
    const [alone] = await traceOf(1, 'unreadable-alone');
    const broken = withAttributes(alone!, alone!.attributes);
    // A NUL in the reason: stored sanitised, not refused with the whole transaction.
    Object.defineProperty(broken, 'status', { get: () => { throw new Error('nothing\u0000 readable (test)'); } });
    expect(await exportSpans(exporter, [broken])).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters WHERE trace_id = $1 AND error_message LIKE '%nothing\uFFFD readable%'`, [ids(alone!).traceId])).toBe(1);

    // Carried twice in one batch, one dead letter, counted once (a review: counted twice).
    const [twice] = await traceOf(1, 'unreadable-twice');
    const brokenTwice = withAttributes(twice!, twice!.attributes);
    Object.defineProperty(brokenTwice, 'status', { get: () => { throw new Error('status not readable (test)'); } });
    const beforeTwice = exporter.deadLettered;
    expect(await exportSpans(exporter, [brokenTwice, brokenTwice])).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await db.count(`SELECT count(*) FROM "${schema}".dead_letters WHERE trace_id = $1`, [ids(twice!).traceId])).toBe(1);
    expect(exporter.deadLettered).toBe(beforeTwice + 1);
  });

  it('dead-letters a span whose id is too long to be a key, under a bounded key, and commits the rest; its replay too', async () => {
    // A random id of 8,000 hex characters: no btree could index it (54000), nor the dead letter's key.
    const spans = await traceOf(10, 'giant-id');
    const victim = spans[3]!;
    const giantSpanId = randomBytes(4000).toString('hex');
    const giant = withAttributes(victim, victim.attributes, { spanContext: () => ({ ...victim.spanContext(), spanId: giantSpanId }) });
    const { traceId } = ids(victim);
    const batch = spans.map((s) => (s === victim ? giant : s));
    for (let replay = 0; replay < 2; replay++) {
      expect(await exportSpans(exporter, batch)).toEqual({ code: ExportResultCode.SUCCESS });
    }
    expect(await countIn('spans', traceId)).toBe(9);
    const letters = await db.query<{ span_id: string; attempts: number; error_message: string }>(
      `SELECT span_id, attempts, error_message FROM "${schema}".dead_letters WHERE trace_id = $1`,
      [traceId],
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]!.span_id).toHaveLength(64);
    expect(letters[0]!.span_id.slice(0, 47)).toBe(giantSpanId.slice(0, 47));
    expect(letters[0]!.error_message).toContain('an id of 8000 characters');
    expect(letters[0]!.attempts).toBe(2);
  });

  it('stores a span kind or status code outside the enum as INTERNAL / UNSET, not as a dead letter', async () => {
    const spans = await traceOf(4, 'odd-codes');
    const odd = [
      withAttributes(spans[0]!, spans[0]!.attributes, { kind: 'length' as never }),
      withAttributes(spans[1]!, spans[1]!.attributes, { kind: -1 as never, status: { code: 'constructor' as never } }),
      withAttributes(spans[2]!, spans[2]!.attributes, { kind: 2.5 as never, status: { code: 7 as never } }),
      spans[3]!,
    ];
    expect(await exportSpans(exporter, odd)).toEqual({ code: ExportResultCode.SUCCESS });
    const rows = await db.query<{ kind: string; status_code: string }>(`SELECT kind, status_code FROM "${schema}".spans WHERE trace_id = $1 AND name <> 'odd-codes-root' ORDER BY name`, [ids(spans[0]!).traceId]);
    expect(rows.slice(0, 3)).toEqual([
      { kind: 'INTERNAL', status_code: 'UNSET' },
      { kind: 'INTERNAL', status_code: 'UNSET' },
      { kind: 'INTERNAL', status_code: 'UNSET' },
    ]);
    expect(await countIn('dead_letters', ids(spans[0]!).traceId)).toBe(0);
  });
});
