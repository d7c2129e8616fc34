// A refusal PostgreSQL raises for a reason of the database's own (a trigger's RAISE, P0001;
// a row-level security policy, 42501) may be one record's or every record's. Isolated only
// for the classes that name a record (22/23/54), one span a validation trigger refused held
// its batch, and the journal behind it, for good: in a soak, 107,665 records waited 175 s
// behind it, retried once a second, until the trigger went (an attack). Such a refusal is now
// isolated too once a plain row of the batch's shape, written and rolled back, is accepted:
// the database takes rows of these tables, so the refusal was the records'. When the plain
// row is refused too (a trigger that refuses every row, a table closed, a REVOKE), the batch
// fails as before, and nothing is dead-lettered.
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
    CREATE TABLE "${schema}".switch (refuse_all_spans boolean NOT NULL, refuse_all_logs boolean NOT NULL);
    INSERT INTO "${schema}".switch VALUES (false, false);
    CREATE FUNCTION "${schema}".refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.attributes ? 'poison' OR (SELECT refuse_all_spans FROM "${schema}".switch) THEN
        RAISE EXCEPTION 'span % refused by a trigger', NEW.span_id;
      END IF;
      RETURN NEW;
    END $$;
    CREATE FUNCTION "${schema}".close_logs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF (SELECT refuse_all_logs FROM "${schema}".switch) THEN RAISE EXCEPTION 'logs closed for maintenance'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON "${schema}".spans FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_poison();
    CREATE TRIGGER close_logs BEFORE INSERT OR UPDATE ON "${schema}".logs FOR EACH ROW EXECUTE FUNCTION "${schema}".close_logs();`);
  exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
});

afterAll(async () => {
  await exporter.shutdown();
  await db.close();
});

const poisoned = (span: ReadableSpan): ReadableSpan => withAttributes(span, { ...span.attributes, poison: true });
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

  it('refused spans clustered at the start of the batch, and one accepted at its end: each refused one is dead-lettered', async () => {
    const spans = await traceOf(4, 'trigger-clustered');
    const batch = spans.map((s, index) => (index < 3 ? poisoned(s) : s));
    expect(await exportSpans(exporter, batch)).toEqual({ code: ExportResultCode.SUCCESS });
    const { traceId } = ids(spans[0]!);
    expect(await rowsOf(traceId)).toBe(1);
    expect((await lettersOf(traceId)).map((l) => l.span_id)).toEqual(batch.slice(0, 3).map((s) => ids(s).spanId).sort());
  });

  it('a batch of the refused span alone: dead-lettered, as a plain row shows the database takes spans', async () => {
    const [span] = await traceOf(1, 'trigger-alone');
    const victim = poisoned(span!);
    const { traceId, spanId } = ids(victim);
    expect(await exportSpans(exporter, [victim])).toEqual({ code: ExportResultCode.SUCCESS });
    expect((await lettersOf(traceId)).map((l) => [l.span_id, l.sql_state])).toEqual([[spanId, 'P0001']]);
    expect(await rowsOf(traceId)).toBe(0);
  });

  it('every span refused (a trigger closing the table): the batch fails, nothing is dead-lettered, nor the plain row stored, and it commits once the database takes it', async () => {
    const spans = await traceOf(32, 'trigger-all');
    const { traceId } = ids(spans[0]!);
    await db.query(`UPDATE "${schema}".switch SET refuse_all_spans = true`);
    try {
      const result = await exportSpans(exporter, spans);
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error?.message).toContain('refused by a trigger');
      expect(await rowsOf(traceId)).toBe(0);
      expect(await lettersOf(traceId)).toEqual([]);
    } finally {
      await db.query(`UPDATE "${schema}".switch SET refuse_all_spans = false`);
    }
    expect(await exportSpans(exporter, spans)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await rowsOf(traceId)).toBe(32);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE name = 'otel_blackbox.plain_row'`)).toBe(0);
  });

  it('the logs table closed, spans with and without events in the batch: it fails, and no span is dead-lettered for the refusal of its events', async () => {
    const spans = await traceOf(8, 'logs-closed');
    // Half of them without their event: those are accepted, and prove nothing of the logs table.
    const batch = spans.map((s, index) => (index % 2 === 0 ? withAttributes(s, s.attributes, { events: [] }) : s));
    const { traceId } = ids(spans[0]!);
    await db.query(`UPDATE "${schema}".switch SET refuse_all_logs = true`);
    try {
      const result = await exportSpans(exporter, batch);
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(result.error?.message).toContain('logs closed for maintenance');
      expect(await lettersOf(traceId)).toEqual([]);
    } finally {
      await db.query(`UPDATE "${schema}".switch SET refuse_all_logs = false`);
    }
    expect(await exportSpans(exporter, batch)).toEqual({ code: ExportResultCode.SUCCESS });
    expect(await rowsOf(traceId)).toBe(8);
  });
});
