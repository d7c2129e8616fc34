// One batch, one transaction: a failure in any statement leaves none of the batch behind,
// and a batch written twice leaves the rows as they were.
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/postgres/PostgresSpanExporter.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { exportSpans, traceOf } from './spanFixtures.js';

const db = new TestDatabase();
let schema: string;
let exporter: PostgresSpanExporter;

beforeAll(async () => {
  schema = await db.freshSchema('transaction');
  await migrateSchema(db.pool, schema);
  // Faults injected by the database itself, in the spans statement: the second of the batch.
  await db.query(`CREATE FUNCTION "${schema}".inject_fault() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.name = 'fault-serialization-root' THEN
        RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = 'serialization_failure';
      ELSIF NEW.name = 'fault-disconnect-root' THEN
        PERFORM pg_terminate_backend(pg_backend_pid());
      END IF;
      RETURN NEW;
    END $$`);
  await db.query(`CREATE TRIGGER inject_fault BEFORE INSERT ON "${schema}".spans FOR EACH ROW EXECUTE FUNCTION "${schema}".inject_fault()`);
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

describe.each([
  { fault: 'serialization', expected: '40001' },
  { fault: 'disconnect', expected: '57P01' },
])('a batch whose spans statement fails ($fault)', ({ fault, expected }) => {
  it('reports FAILED as retryable and leaves no trace, span or log of the batch', async () => {
    const spans = await traceOf(20, `fault-${fault}`);
    const traceId = spans[0]!.spanContext().traceId;

    const result = await exportSpans(exporter, spans);

    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error).toMatchObject({ kind: 'transient', retryable: true });
    expect((result.error as { sqlState?: string }).sqlState).toBe(expected);
    expect(await db.count(`SELECT count(*) FROM "${schema}".traces WHERE trace_id = $1`, [traceId])).toBe(0);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [traceId])).toBe(0);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE trace_id = $1`, [traceId])).toBe(0);
  });

  it('leaves the exporter able to write the next batch', async () => {
    const spans = await traceOf(5, `after-${fault}`);
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [spans[0]!.spanContext().traceId])).toBe(5);
  });
});

describe('replaying a batch', () => {
  it('changes no row, not even updated_at', async () => {
    const spans = await traceOf(30, 'replay');
    const traceId = spans[0]!.spanContext().traceId;
    const snapshot = () =>
      db.query(
        `SELECT 'trace' AS kind, to_jsonb(t) AS row FROM "${schema}".traces t WHERE trace_id = $1
         UNION ALL SELECT 'span', to_jsonb(s) FROM "${schema}".spans s WHERE trace_id = $1
         UNION ALL SELECT 'log', to_jsonb(l) FROM "${schema}".logs l WHERE trace_id = $1
         ORDER BY 1, 2`,
        [traceId],
      );

    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const first = await snapshot();
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    expect((await exportSpans(exporter, [...spans].reverse())).code).toBe(ExportResultCode.SUCCESS);

    expect(first.filter((r) => r.kind === 'span')).toHaveLength(30);
    expect(first.filter((r) => r.kind === 'log')).toHaveLength(30);
    expect(await snapshot()).toEqual(first);
  });

  it('stores the new half of a batch whose other half is already stored, leaving that half as it was', async () => {
    const spans = await traceOf(20, 'half-replay');
    const traceId = spans[0]!.spanContext().traceId;
    const rows = () => db.query(`SELECT span_id, updated_at FROM "${schema}".spans WHERE trace_id = $1 ORDER BY span_id`, [traceId]);

    expect((await exportSpans(exporter, spans.slice(0, 10))).code).toBe(ExportResultCode.SUCCESS);
    const before = await rows();
    expect((await exportSpans(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);

    const after = await rows();
    expect(after).toHaveLength(20);
    expect(after.filter((row) => before.some((b) => b.span_id === row.span_id))).toEqual(before);
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE trace_id = $1`, [traceId])).toBe(20);
  });

  it('merges a span repeated within one batch instead of failing the statement', async () => {
    const spans = await traceOf(3, 'duplicated');
    const result = await exportSpans(exporter, [...spans, ...spans]);
    expect(result).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [spans[0]!.spanContext().traceId])).toBe(3);
  });
});
