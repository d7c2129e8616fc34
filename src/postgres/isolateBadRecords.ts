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
// too large) is the record's. Any other that is not transient (a trigger's RAISE, P0001; a
// row-level security policy, 42501) may be one record's or the table's: a record is
// dead-lettered for it only once some other part of the batch was accepted, the proof that
// the database takes the rest. Without that proof (every part refused: a trigger refusing
// every row, a REVOKE) the batch fails as a whole, and is retried. Isolated only for the
// record classes, one span a validation trigger refused held its batch and the journal
// behind it for good (an attack: 107,665 records waited 175 s, until the trigger went).
import type pg from 'pg';
import { safeDiag } from '../safeDiag.js';
import type { LogRow } from './logRows.js';
import { classifyError, sqlStateOf } from './sqlState.js';
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
 * are. Throws the refusal when no part of the batch was accepted and it names no record
 * (see above): the caller's transaction then fails as the batch did.
 */
export async function isolateBadRecords(client: pg.PoolClient, statements: Statements, batch: RowBatch, refusal: unknown): Promise<RefusedRows> {
  const isolation = new Isolation(client, statements);
  await isolation.isolate(unitsOf(batch), refusal);
  return isolation.refused;
}

class Isolation {
  readonly refused = new RefusedRows();
  /** Whether some part of the batch was accepted: the proof that a refusal naming no record is the record's. */
  #someAccepted = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly statements: Statements,
  ) {}

  /** Both halves are tried before either is halved again: the proof may come from either. */
  async isolate(units: readonly Unit[], refusal: unknown): Promise<void> {
    if (units.length === 1) return this.isolateUnit(units[0]!, refusal);
    const middle = Math.ceil(units.length / 2);
    const halves = [units.slice(0, middle), units.slice(middle)];
    const refusals: unknown[] = [];
    for (const half of halves) refusals.push(await this.write(half));
    for (const [index, half] of halves.entries()) {
      if (refusals[index] !== undefined) await this.isolate(half, refusals[index]);
    }
  }

  /** One refused unit: the record alone is dead-lettered; a span with log records is tried alone first. */
  private async isolateUnit(unit: Unit, refusal: unknown): Promise<void> {
    if (unit.span === undefined || unit.logs.length === 0) {
      this.mustBeTheRecords(refusal);
      return unit.span === undefined ? this.deadLetter({ log: unit.logs[0] }, refusal) : this.deadLetter({ span: unit.span }, refusal);
    }
    const spanRefusal = await this.write([{ span: unit.span, logs: [] }]);
    if (spanRefusal === undefined) {
      return this.isolate(unit.logs.map((log) => ({ logs: [log] }) as Unit), refusal);
    }
    this.mustBeTheRecords(spanRefusal);
    await this.deadLetter({ span: unit.span }, spanRefusal);
    const withSpan = Object.assign(new Error(`its span was refused: ${(spanRefusal as Error)?.message ?? String(spanRefusal)}`), { code: sqlStateOf(spanRefusal) });
    for (const log of unit.logs) await this.deadLetter({ log }, withSpan);
  }

  /** The record is refused for this reason alone, or the whole batch fails with it. */
  private mustBeTheRecords(refusal: unknown): void {
    if (!this.#someAccepted && classifyError(refusal) !== 'record') throw refusal;
  }

  /** Writes `units` under a savepoint: undefined when accepted, else PostgreSQL's refusal. */
  private async write(units: readonly Unit[]): Promise<unknown> {
    const refusal = await attempt(this.client, () => writeRows(this.client, this.statements, batchOf(units), 'upsert'), isRefusal);
    if (refusal === undefined) this.#someAccepted = true;
    return refusal;
  }

  /** `item` into dead_letters, and into `refused` (also when even its dead letter is refused: it is not stored either way). */
  private async deadLetter(item: Item, error: unknown): Promise<void> {
    const { client, statements, refused } = this;
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
}

/** Any refusal that is not transient: a lost connection, a timeout or a serialization failure fails the whole transaction. */
const isRefusal = (error: unknown): boolean => classifyError(error) !== 'transient';
const namesRecord = (error: unknown): boolean => classifyError(error) === 'record';

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
 * the whole transaction.
 */
async function attempt(client: pg.PoolClient, work: () => Promise<void>, isRefused: (error: unknown) => boolean): Promise<unknown> {
  await client.query(`SAVEPOINT ${SAVEPOINT}`);
  try {
    await work();
  } catch (error) {
    if (!isRefused(error)) throw error;
    await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
    return error;
  }
  await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  return undefined;
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
    body: body === null ? null : JSON.parse(body),
    attributes: JSON.parse(attributes),
    resource: JSON.parse(resource.json),
  });
}
