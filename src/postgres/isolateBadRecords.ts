// When PostgreSQL refuses one record for good (a class 22/23/54 error), the batch is
// written again in halves, each under a SAVEPOINT inside one transaction, until every
// refused span stands alone; that span goes to dead_letters with its SQLSTATE and the
// rest commits. A batch of n spans with one bad record costs about 2·log2(n) attempts,
// each a statement per table on fewer rows.
import type pg from 'pg';
import { classifyError, sqlStateOf } from './sqlState.js';
import type { SpanRow } from './spanRows.js';
import type { Statements } from './statements.js';
import { unixNanoText } from './unixNano.js';
import { writeRows } from './writeRows.js';

const SAVEPOINT = 'otel_blackbox_split';

/**
 * Called inside the caller's open transaction after PostgreSQL refused `spans` as a whole
 * with `refusal`: writes what it can, dead-letters the rest, returns how many it refused.
 */
export async function isolateBadRecords(client: pg.PoolClient, statements: Statements, spans: readonly SpanRow[], refusal: unknown): Promise<number> {
  if (spans.length === 1) {
    await deadLetter(client, statements, spans[0]!, refusal);
    return 1;
  }
  const middle = Math.ceil(spans.length / 2);
  const left = await writeOrIsolate(client, statements, spans.slice(0, middle));
  const right = await writeOrIsolate(client, statements, spans.slice(middle));
  return left + right;
}

async function writeOrIsolate(client: pg.PoolClient, statements: Statements, spans: readonly SpanRow[]): Promise<number> {
  const refusal = await attempt(client, () => writeRows(client, statements, spans, 'upsert'));
  return refusal === undefined ? 0 : isolateBadRecords(client, statements, spans, refusal);
}

/**
 * Runs `work` under a savepoint: undefined when it succeeded, the error when PostgreSQL
 * refused a record (the savepoint is rolled back). Any other error is thrown, failing the
 * whole transaction.
 */
async function attempt(client: pg.PoolClient, work: () => Promise<void>): Promise<unknown> {
  await client.query(`SAVEPOINT ${SAVEPOINT}`);
  try {
    await work();
  } catch (error) {
    if (classifyError(error) !== 'record') throw error;
    await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
    return error;
  }
  await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  return undefined;
}

async function deadLetter(client: pg.PoolClient, statements: Statements, span: SpanRow, error: unknown): Promise<void> {
  const sqlState = sqlStateOf(error) ?? null;
  const message = error instanceof Error ? error.message : String(error);
  const stored = await attempt(client, () =>
    client.query(statements.upsertDeadLetter(span.traceId, span.spanId, deadLetterRecord(span), sqlState, message)).then(() => {}),
  );
  // If even the record cannot be stored as JSON, keep the ids and the reason.
  if (stored !== undefined) await client.query(statements.upsertDeadLetter(span.traceId, span.spanId, null, sqlState, message));
}

/** The span as one JSON document, its JSON columns nested rather than quoted. */
export function deadLetterRecord(span: SpanRow): string {
  const { attributes, resource, scope, links, events, startTime, endTime, ...columns } = span;
  return JSON.stringify({
    ...columns,
    startTimeUnixNano: unixNanoText(startTime),
    endTimeUnixNano: endTime === null ? null : unixNanoText(endTime),
    serviceName: resource.serviceName,
    scopeName: scope.name,
    scopeVersion: scope.version,
    attributes: JSON.parse(attributes),
    resource: JSON.parse(resource.json),
    links: JSON.parse(links),
    events: events.map(({ time, ...event }) => ({ ...event, timeUnixNano: unixNanoText(time), attributes: JSON.parse(event.attributes) })),
  });
}
