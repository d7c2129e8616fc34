// A refusal PostgreSQL raises for a reason of the database's own (a trigger's RAISE, P0001;
// a row-level security policy, 42501) may be one record's or every record's. Isolated only
// for the classes that name a record (22/23/54), one span a validation trigger refused held
// its batch, and the journal behind it, for good: in a soak, 107,665 records waited 175 s
// behind it, retried once a second, until the trigger went (an attack). Such a refusal is now
// isolated too, and a record is dead-lettered for it once some other part of its batch was
// accepted: the proof that the database takes the rest. A batch of which nothing is accepted
// (a trigger that refuses every row, a REVOKE) fails as before, and nothing is dead-lettered.
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
  schema = await db.freshSchema('trigger_refusals');
  await migrateSchema(db.pool, schema);
  await db.query(`
    CREATE FUNCTION "${schema}".refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.attributes ? 'poison' OR (NEW.attributes ? 'refuse_all' AND (SELECT refuse_all FROM "${schema}".switch)) THEN
        RAISE EXCEPTION 'span % refused by a trigger', NEW.span_id;
      END IF;
      RETURN NEW;
    END $$;
    CREATE TABLE "${schema}".switch (refuse_all boolean NOT NULL);
    INSERT INTO "${schema}".switch VALUES (false);
    CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON "${schema}".spans FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_poison();`);
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

const poisoned = (span: ReadableSpan): ReadableSpan => withAttributes(span, { ...span.attributes, poison: true });
const refusedByAll = (span: ReadableSpan): ReadableSpan => withAttributes(span, { ...span.attributes, refuse_all: true });
const rowsOf = (traceId: string) => db.count(`SELECT count(*) FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
const lettersOf = (traceId: string) => db.query<{ span_id: string; sql_state: string; error_message: string }>(`SELECT span_id, sql_state, error_message FROM "${schema}".dead_letters WHERE trace_id = $1 ORDER BY span_id`, [traceId]);

describe("a refusal of the database's own (a trigger's RAISE)", () => {
  it('one span refused: dead-lettered with its SQLSTATE once the rest of its batch is accepted, and the batch commits', async () => {
    const spans = await traceOf(100, 'trigger-one');
    const victim = spans[0]!;
    expect(await exportSpans(exporter, spans.map((s) => (s === victim ? poisoned(s) : s)))).toEqual({ code: ExportResultCode.SUCCESS });
    const { traceId, spanId } = ids(victim);
    expect(await rowsOf(traceId)).toBe(99);
    const letters = await lettersOf(traceId);
    expect(letters.map((l) => [l.span_id, l.sql_state])).toEqual([[spanId, 'P0001']]);
    expect(letters[0]!.error_message).toContain('refused by a trigger');
  });

  it('refused spans in both halves of the batch: each is dead-lettered, the rest commits', async () => {
    const spans = await traceOf(64, 'trigger-two');
    const victims = new Set([spans[3]!, spans[40]!]);
    expect(await exportSpans(exporter, spans.map((s) => (victims.has(s) ? poisoned(s) : s)))).toEqual({ code: ExportResultCode.SUCCESS });
    const { traceId } = ids(spans[0]!);
    expect(await rowsOf(traceId)).toBe(62);
    expect((await lettersOf(traceId)).map((l) => l.span_id)).toEqual([...victims].map((s) => ids(s).spanId).sort());
  });

  it('every record refused: the batch fails as it did, nothing is dead-lettered, and it commits once the database takes it', async () => {
    const spans = (await traceOf(32, 'trigger-all')).map(refusedByAll);
    const { traceId } = ids(spans[0]!);
    await db.query(`UPDATE "${schema}".switch SET refuse_all = true`);
    try {
      const result = await exportSpans(exporter, spans);
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error?.message).toContain('refused by a trigger');
      expect(await rowsOf(traceId)).toBe(0);
      expect(await lettersOf(traceId)).toEqual([]);
    } finally {
      await db.query(`UPDATE "${schema}".switch SET refuse_all = false`);
    }
    expect(await exportSpans(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await rowsOf(traceId)).toBe(32);
  });

  it('a batch of the refused span alone fails (nothing shows the database takes the rest); in a batch with others it is dead-lettered', async () => {
    const spans = await traceOf(4, 'trigger-alone');
    const victim = poisoned(spans[0]!);
    const { traceId, spanId } = ids(victim);
    expect((await exportSpans(exporter, [victim])).code).toBe(ExportResultCode.FAILED);
    expect(await lettersOf(traceId)).toEqual([]);
    expect(await exportSpans(exporter, [victim, ...spans.slice(1)])).toEqual({ code: ExportResultCode.SUCCESS });
    expect((await lettersOf(traceId)).map((l) => l.span_id)).toEqual([spanId]);
    expect(await rowsOf(traceId)).toBe(3);
  });
});
