// Where an end-to-end span's CPU goes on its way from the journal into PostgreSQL, each
// piece alone, for bench/end-to-end.mjs: on these two cores the exporting process and the
// server share the CPU, so the rate end to end is set by the sum of both sides' time a span.
//
// - In the exporting process: an END payload read back into a span (JSON.parse and
//   RecordedSpan), the span made a row (SpanRowConverter), and a batch's rows bound as
//   binary array parameters (bindRows).
// - In PostgreSQL: the server CPU a span costs with our statements (the machine's CPU time
//   less this process's; one connection, one batch at a time), each statement's share of
//   the wall time, and the same for a COPY of the same rows (copyCeiling.mjs).
import pg from 'pg';
import { endRecordJson } from '../dist/esm/journal/spanRecordJson.js';
import { readableSpanFromRecord } from '../dist/esm/journal/readableSpanFromRecord.js';
import { queryBinary } from '../dist/esm/postgres/binaryParameterQuery.js';
import { mergeSpanRows } from '../dist/esm/postgres/mergeSpanRows.js';
import { migrateSchema } from '../dist/esm/postgres/migrate.js';
import { quoteSchema } from '../dist/esm/postgres/schemaName.js';
import { SpanRowConverter } from '../dist/esm/postgres/spanRows.js';
import { Statements } from '../dist/esm/postgres/statements.js';
import { bindRows } from '../dist/esm/postgres/writeRows.js';
import { machineCpu, ownCpu, summary } from './benchSupport.mjs';
import { copyCeiling } from './copyCeiling.mjs';

const BATCH = 512;

/** Nanoseconds a span for each step in the exporting process, medians of `rounds` passes over `spans`. */
export async function processSteps(spans, rounds = 5) {
  const resource = spans[0].resource;
  const payloads = spans.map((span) => Buffer.from(endRecordJson(span, 1)));
  const statements = new Statements(quoteSchema('otel'));
  const steps = { 'END payload -> span': [], 'span -> row': [], 'rows -> binary parameters': [] };
  // The first pass warms the code up and is not counted.
  for (let round = 0; round <= rounds; round++) {
    const nanos = [0, 0, 0];
    for (let from = 0; from < payloads.length; from += BATCH) {
      let t = performance.now();
      const read = payloads.slice(from, from + BATCH).map((payload) => readableSpanFromRecord(JSON.parse(payload.toString('utf8')), resource));
      let now = performance.now();
      nanos[0] += now - t;
      t = now;
      const converter = new SpanRowConverter();
      const rows = mergeSpanRows(read.map((span) => converter.toRow(span)));
      now = performance.now();
      nanos[1] += now - t;
      t = now;
      const bound = await bindRows(statements, { spans: rows, logs: [] });
      nanos[2] += performance.now() - t;
      bound.arena.release();
    }
    if (round > 0) Object.values(steps).forEach((values, i) => values.push((nanos[i] * 1e6) / payloads.length));
  }
  return Object.fromEntries(Object.entries(steps).map(([name, values]) => [name, summary(values).median]));
}

/**
 * PostgreSQL's side: µs of server CPU a span with our statements and with a COPY of the
 * same rows, and µs of wall time a span in each of our statements. `spans`: a multiple of
 * the batch size, each its own trace (as bench/end-to-end.mjs makes them).
 */
export async function serverCosts(url, spans, rounds = 3) {
  const schema = `bench_export_path_${process.pid}`;
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const statements = new Statements(quoteSchema(schema));
  const bounds = [];
  for (let from = 0; from < spans.length; from += BATCH) {
    const converter = new SpanRowConverter();
    bounds.push(await bindRows(statements, { spans: mergeSpanRows(spans.slice(from, from + BATCH).map((span) => converter.toRow(span))), logs: [] }));
  }
  const names = ['traces', 'spans', 'events'];
  const ours = [];
  const copy = [];
  const wall = names.map(() => []);
  const emptied = async () => {
    await pool.query(`TRUNCATE "${schema}".traces, "${schema}".spans, "${schema}".logs`);
    await pool.query('CHECKPOINT');
  };
  /** Server CPU µs a span while `work` runs: the machine's CPU time less this process's. */
  const serverMicros = async (work) => {
    const machine = machineCpu().busy;
    const own = ownCpu();
    await work();
    return ((machineCpu().busy - machine - (ownCpu() - own)) / spans.length) * 1e6;
  };
  try {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await migrateSchema(pool, schema);
    for (let round = 0; round < rounds; round++) {
      await emptied();
      const client = await pool.connect();
      const millis = names.map(() => 0);
      try {
        ours.push(
          await serverMicros(async () => {
            for (const bound of bounds) {
              await client.query('BEGIN');
              for (const [i, statement] of bound.statements.entries()) {
                const t = performance.now();
                await queryBinary(client, [{ text: statement.sql.fail, values: statement.values }]);
                millis[i] += performance.now() - t;
              }
              await client.query('COMMIT');
            }
          }),
        );
      } finally {
        client.release();
      }
      millis.forEach((ms, i) => wall[i].push((ms / spans.length) * 1000));
      await emptied();
      copy.push(await serverMicros(() => copyCeiling(pool, schema, spans)));
    }
  } finally {
    for (const bound of bounds) bound.arena.release();
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  }
  return {
    ours: summary(ours).median,
    copy: summary(copy).median,
    statements: Object.fromEntries(names.map((name, i) => [name, summary(wall[i]).median])),
  };
}
