// When PostgreSQL refuses a batch for good, the batch is written again in halves, each under
// a SAVEPOINT inside one transaction, until every refused record (a span or a log record)
// stands alone; that record goes to dead_letters with its SQLSTATE and the rest commits. A
// batch of n records with one bad record costs about 2·log2(n) attempts, each a statement
// per table on fewer rows. A span and its log records are halved as one unit: a log record
// committed without its refused span would have made a 'started' row for it, a span that
// looks as if it still ran. A refused unit tries its span alone: refused, the span and its
// log records go to dead_letters together; accepted, its log records are isolated as the
// rest are.
//
// A refusal of the classes that name a record (22/23/54: a bad value, a constraint, a value
// too large) is the record's. A trigger's RAISE (class P0) or a refused privilege (42501)
// may be one record's (a validation trigger, a row-level security policy) or every
// record's (a table closed by a trigger, a REVOKE): a plain row of the batch's shape is
// written first, through every statement the batch uses, and always rolled back (plainRows).
// Accepted, the database takes rows of these tables, so the refusal was the records': they
// are isolated as above. Refused, the batch fails as a whole, and is retried; nothing is
// dead-lettered. Before, only the record classes were isolated, and one span a validation
// trigger refused held its batch and the journal behind it for good (an attack: 107,665
// records waited 175 s, until the trigger went).
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { safeDiag } from '../safeDiag.js';
import { inSampledSpan, type LogRow } from './logRows.js';
import { classifyError, mayBeTheRecords, sqlStateOf } from './sqlState.js';
import type { SpanRow } from './spanRows.js';
import type { Statements } from './statements.js';
import { unixNanoText } from './unixNano.js';
import { writeRows, type RowBatch } from './writeRows.js';

const SAVEPOINT = 'otel_blackbox_split';

type Item = { span: SpanRow; log?: undefined } | { log: LogRow; span?: undefined };

/** What PostgreSQL refused of a batch, now in dead_letters: spans by their keys (traceId/spanId as rows hold them), and a count of log records. */
export class RefusedRows {
  readonly spanKeys = new Set<string>();
  logRecords = 0;

  static keyOf(traceId: string, spanId: string): string {
    return `${traceId}/${spanId}`;
  }

  get count(): number {
    return this.spanKeys.size + this.logRecords;
  }
}
/** What is halved: a span with its log records, or a log record whose span is not in the batch. */
type Unit = { span: SpanRow; logs: LogRow[] } | { span?: undefined; logs: [LogRow] };

/**
 * Called inside the caller's open transaction after PostgreSQL refused `batch` as a whole
 * with `refusal`: writes what it can, dead-letters the rest, and returns which records those
 * are. Throws `refusal` when it may be every record's and a plain row is refused too.
 */
export async function isolateBadRecords(client: pg.PoolClient, statements: Statements, batch: RowBatch, refusal: unknown): Promise<RefusedRows> {
  if (!namesRecord(refusal)) {
    const plainRefused = await attempt(client, () => writeRows(client, statements, plainRows(batch), 'upsert'), isolates, { keep: false });
    if (plainRefused !== undefined) throw refusal;
  }
  const refused = new RefusedRows();
  await isolate(client, statements, unitsOf(batch), refusal, refused);
  return refused;
}

/** A refusal of one record, or one that may be one record's (see above): what is isolated; anything else fails the whole transaction. */
export const isolates = (error: unknown): boolean => namesRecord(error) || mayBeTheRecords(error);
const namesRecord = (error: unknown): boolean => classifyError(error) === 'record';

async function isolate(client: pg.PoolClient, statements: Statements, units: readonly Unit[], refusal: unknown, refused: RefusedRows): Promise<void> {
  if (units.length === 1) return isolateUnit(client, statements, units[0]!, refusal, refused);
  const middle = Math.ceil(units.length / 2);
  await writeOrIsolate(client, statements, units.slice(0, middle), refused);
  await writeOrIsolate(client, statements, units.slice(middle), refused);
}

async function writeOrIsolate(client: pg.PoolClient, statements: Statements, units: readonly Unit[], refused: RefusedRows): Promise<void> {
  const refusal = await attempt(client, () => writeRows(client, statements, batchOf(units), 'upsert'), isolates);
  if (refusal !== undefined) await isolate(client, statements, units, refusal, refused);
}

/** One refused unit: the record alone is dead-lettered; a span with log records is tried alone first. */
async function isolateUnit(client: pg.PoolClient, statements: Statements, unit: Unit, refusal: unknown, refused: RefusedRows): Promise<void> {
  if (unit.span === undefined) return deadLetter(client, statements, { log: unit.logs[0] }, refusal, refused);
  if (unit.logs.length === 0) return deadLetter(client, statements, { span: unit.span }, refusal, refused);
  const spanRefusal = await attempt(client, () => writeRows(client, statements, { spans: [unit.span], logs: [] }, 'upsert'), isolates);
  if (spanRefusal === undefined) {
    return isolate(client, statements, unit.logs.map((log) => ({ logs: [log] }) as Unit), refusal, refused);
  }
  await deadLetter(client, statements, { span: unit.span }, spanRefusal, refused);
  const withSpan = Object.assign(new Error(`its span was refused: ${(spanRefusal as Error)?.message ?? String(spanRefusal)}`), { code: sqlStateOf(spanRefusal) });
  for (const log of unit.logs) await deadLetter(client, statements, { log }, withSpan, refused);
}

/**
 * Rows of every shape the batch holds, under fresh ids, without attributes, links or body:
 * rows any validation takes, written through every statement the batch uses. A span as the
 * batch's first (its resource, scope, kind and times) with an event if any span has events;
 * a log record in it, in a span the batch does not carry (a 'started' row is made for it),
 * in a span not sampled, and outside any span, for each of these the batch's log records are in.
 */
function plainRows({ spans, logs }: RowBatch): RowBatch {
  const template = spans[0];
  const withEvent = spans.find((span) => span.events.length > 0);
  const plainSpans: SpanRow[] = [];
  if (template !== undefined) {
    plainSpans.push({
      ...template,
      ...freshIds(),
      parentSpanId: null,
      parentIsRemote: null,
      traceState: null,
      name: PLAIN_ROW_NAME,
      state: 'ended',
      endTime: template.endTime ?? template.startTime,
      endTimeEstimated: false,
      statusMessage: null,
      attributes: '{}',
      links: '[]',
      crashReason: null,
      events: withEvent === undefined ? [] : [{ ...withEvent.events[0]!, eventIndex: 0, name: PLAIN_ROW_NAME, attributes: '{}' }],
    });
  }
  const carried = new Set(spans.map((span) => `${span.traceId}/${span.spanId}`));
  const shapes = new Map<string, LogRow>();
  for (const log of logs) {
    // A record in a span not sampled has a shape of its own: its ids and no stand-in row
    // (inSampledSpan). Taken for one the batch does not carry, it left that shape, and its
    // stand-in, untried: a table refusing every span was then read as a refusal of the
    // sampled record, dead-lettered instead of retried (a review).
    const shape =
      log.traceId === null ? 'outside' : !inSampledSpan(log) ? 'not sampled' : carried.has(`${log.traceId}/${log.spanId}`) && plainSpans.length > 0 ? 'carried' : 'not carried';
    if (!shapes.has(shape)) shapes.set(shape, log);
  }
  const plainLogs = [...shapes].map(([shape, log], sequence): LogRow => {
    const ids = shape === 'outside' ? { traceId: null, spanId: null } : shape === 'carried' ? plainSpans[0]! : freshIds();
    return { ...log, writerId: PLAIN_ROW_NAME, sequence, traceId: ids.traceId, spanId: ids.spanId, body: null, attributes: '{}', eventName: null };
  });
  return { spans: plainSpans, logs: plainLogs };
}

function freshIds(): { traceId: string; spanId: string } {
  return { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
}

const PLAIN_ROW_NAME = 'otel_blackbox.plain_row';

/** Each span with its log records, then the log records whose span is not in the batch. */
function unitsOf({ spans, logs }: RowBatch): Unit[] {
  const logsBySpan = new Map<string, LogRow[]>();
  const rest: Unit[] = [];
  const spanKeys = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
  for (const log of logs) {
    const key = `${log.traceId}/${log.spanId}`;
    if (log.traceId !== null && spanKeys.has(key)) {
      const list = logsBySpan.get(key) ?? [];
      list.push(log);
      logsBySpan.set(key, list);
    } else {
      rest.push({ logs: [log] });
    }
  }
  const units: Unit[] = spans.map((span) => ({ span, logs: logsBySpan.get(`${span.traceId}/${span.spanId}`) ?? [] }));
  return units.concat(rest);
}

function batchOf(units: readonly Unit[]): RowBatch {
  const spans: SpanRow[] = [];
  const logs: LogRow[] = [];
  for (const unit of units) {
    if (unit.span !== undefined) spans.push(unit.span);
    logs.push(...unit.logs);
  }
  return { spans, logs };
}

/**
 * Runs `work` under a savepoint: undefined when it succeeded, the error when `isRefused`
 * takes it for a refusal (the savepoint is rolled back). Any other error is thrown, failing
 * the whole transaction. `keep: false`: rolled back even when it succeeded.
 */
async function attempt(client: pg.PoolClient, work: () => Promise<void>, isRefused: (error: unknown) => boolean, { keep = true } = {}): Promise<unknown> {
  await client.query(`SAVEPOINT ${SAVEPOINT}`);
  try {
    await work();
  } catch (error) {
    if (!isRefused(error)) throw error;
    await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
    return error;
  }
  await client.query(keep ? `RELEASE SAVEPOINT ${SAVEPOINT}` : `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
  return undefined;
}

/** `item` into dead_letters, and into `refused` (also when even its dead letter is refused: it is not stored either way). */
async function deadLetter(client: pg.PoolClient, statements: Statements, item: Item, error: unknown, refused: RefusedRows): Promise<void> {
  if (item.span !== undefined) refused.spanKeys.add(RefusedRows.keyOf(item.span.traceId, item.span.spanId));
  else refused.logRecords += 1;
  const sqlState = sqlStateOf(error) ?? null;
  const message = error instanceof Error ? error.message : String(error);
  const statement = (record: string | null) =>
    item.span !== undefined
      ? statements.upsertDeadLetter(item.span.traceId, item.span.spanId, record, sqlState, message)
      : statements.upsertLogDeadLetter(item.log, record, sqlState, message);
  const record = item.span !== undefined ? deadLetterRecord(item.span) : logDeadLetterRecord(item.log);
  // Only a refusal of the record classes is taken here: anything else refusing a dead
  // letter (its table gone, a REVOKE) fails the batch, and nothing is lost.
  const stored = await attempt(client, () => client.query(statement(record)).then(() => {}), namesRecord);
  if (stored === undefined) return;
  // If even the record cannot be stored as JSON, keep the ids and the reason. If not even
  // those, the record is said and let go: refused again at every replay, it would hold the
  // rest of its batch, and the journal behind it, for good.
  const bare = await attempt(client, () => client.query(statement(null)).then(() => {}), namesRecord);
  if (bare !== undefined) {
    const what = item.span !== undefined ? `span ${item.span.traceId}/${item.span.spanId}` : `log record ${item.log.writerId}/${item.log.sequence}`;
    safeDiag.error(`PostgresSpanExporter: PostgreSQL refused ${what} and its dead letter (${(bare as Error)?.message ?? String(bare)}); it is lost, the rest of its batch was written.`);
  }
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

/** The log record as one JSON document, like deadLetterRecord. */
export function logDeadLetterRecord(log: LogRow): string {
  const { attributes, body, resource, scope, time, observedTime, ...columns } = log;
  return JSON.stringify({
    ...columns,
    timeUnixNano: unixNanoText(time),
    observedTimeUnixNano: observedTime === null ? null : unixNanoText(observedTime),
    serviceName: resource.serviceName,
    scopeName: scope.name,
    scopeVersion: scope.version,
    scopeAttributes: scope.attributes === null ? null : JSON.parse(scope.attributes),
    body: body === null ? null : JSON.parse(body),
    attributes: JSON.parse(attributes),
    resource: JSON.parse(resource.json),
  });
}
