// Statements with their parameters for a set of rows: one array per column, in the
// binary array format (binaryArray.ts), matching the SQL in statementSql.ts.
import { bigintArray, booleanArray, integerArray, jsonbArray, textArray, unixNanoArray } from './binaryArray.js';
import type { ParameterArena } from './ParameterArena.js';
import { positions, SPAN_KINDS, STATUS_CODES } from './columnCodes.js';
import type { QuotedSchema } from './schemaName.js';
import { replacesStoredEvents, type EventRow, type ResourceColumns, type ScopeColumns, type SpanRow } from './spanRows.js';
import { STATE_RANK } from './statePrecedence.js';
import { deadLetterSql, eventsReplacedSql, logDeadLetterSql, logRecordsSql, logsSql, spansSql, tracesSql } from './statementSql.js';
import type { LogRow } from './logRows.js';
import type { TraceRow } from './traceRows.js';
import type { TurnBudget } from '../TurnBudget.js';
import type { UnixNano } from './unixNano.js';

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * A statement's SQL for each way of meeting stored rows: the parameters are the same, so
 * a batch bound once can be sent as plain INSERTs and, if rows were already stored, again
 * as upserts.
 */
export type StatementSql = Record<ConflictMode, string>;

/** A statement whose parameters are binary arrays, one per column (sent by queryBinary). */
export interface BoundStatement {
  sql: StatementSql;
  values: Buffer[];
}

/**
 * A statement over a batch of rows: its parameters, one array per column, are encoded
 * column by column by `bindColumns`, which lets the host's event loop run between them
 * when the turn has had its time (a 2048-span batch's spans statement took 10–25 ms to
 * encode in one go).
 */
export interface BulkStatement {
  sql: StatementSql;
  /** Evaluated in order: a column may rely on those before it. */
  columns: Column[];
}

/** One column's array, encoded into the batch's arena. */
type Column = (arena: ParameterArena) => Buffer;

export async function bindColumns(statement: BulkStatement, arena: ParameterArena, turn: TurnBudget): Promise<BoundStatement> {
  const values: Buffer[] = [];
  for (const column of statement.columns) {
    const wait = turn.pace();
    if (wait) await wait;
    values.push(column(arena));
  }
  return { sql: statement.sql, values };
}

const KIND_POSITIONS = positions(SPAN_KINDS);
const STATUS_POSITIONS = positions(STATUS_CODES);

/**
 * How spans and events meet rows already stored: `upsert` merges by precedence (and
 * skips stored events); `fail` is a plain INSERT that fails with 23505 on any stored row.
 */
export type ConflictMode = 'upsert' | 'fail';

export class Statements {
  readonly #traces: StatementSql;
  readonly #spans: StatementSql;
  readonly #knownSpans: StatementSql;
  readonly #logs: StatementSql;
  readonly #eventsReplaced: StatementSql;
  readonly #logRecords: StatementSql;
  readonly #deadLetter: string;
  readonly #logDeadLetter: string;
  /** Whether the log statement names logs.scope_attributes (migration 8). */
  readonly scopeAttributes: boolean;

  /** `scopeAttributes`: the schema has logs.scope_attributes (migration 8); default true. */
  constructor(schema: QuotedSchema, { scopeAttributes = true }: { scopeAttributes?: boolean } = {}) {
    this.scopeAttributes = scopeAttributes;
    const traces = tracesSql(schema);
    const keep = spansSql(schema, 'keep');
    this.#traces = { upsert: traces, fail: traces };
    this.#spans = { upsert: spansSql(schema, 'upsert'), fail: spansSql(schema, 'fail') };
    this.#knownSpans = { upsert: keep, fail: keep };
    this.#logs = { upsert: logsSql(schema, 'upsert'), fail: logsSql(schema, 'fail') };
    const eventsReplaced = eventsReplacedSql(schema);
    this.#eventsReplaced = { upsert: eventsReplaced, fail: eventsReplaced };
    this.#logRecords = { upsert: logRecordsSql(schema, 'upsert', { scopeAttributes }), fail: logRecordsSql(schema, 'fail', { scopeAttributes }) };
    this.#deadLetter = deadLetterSql(schema);
    this.#logDeadLetter = logDeadLetterSql(schema);
  }

  upsertTraces(traces: readonly TraceRow[]): BulkStatement {
    const t = columnsOf(traces);
    return {
      sql: this.#traces,
      columns: [
        t.text((r) => r.traceId),
        t.text((r) => r.serviceName),
        t.text((r) => r.rootSpanId),
        t.text((r) => r.rootSpanName),
        t.unixNano((r) => r.startTime),
        t.unixNano((r) => r.endTime),
        t.boolean((r) => r.rootSpanEnded),
        (arena) => textArray(traces.filter((r) => r.tentative).map((r) => r.traceId), arena),
        t.boolean((r) => r.rootParentIsRemote),
        t.unixNano((r) => r.rootStartTime),
      ],
    };
  }

  writeSpans(spans: readonly SpanRow[]): BulkStatement {
    return this.#spansStatement(spans, this.#spans);
  }

  /** Rows standing for spans known only from their log records: inserted where the span has no row yet. */
  writeKnownSpans(spans: readonly SpanRow[]): BulkStatement {
    return this.#spansStatement(spans, this.#knownSpans);
  }

  #spansStatement(spans: readonly SpanRow[], sql: StatementSql): BulkStatement {
    const resources = new Distinct<ResourceColumns>();
    const scopes = new Distinct<ScopeColumns>();
    const s = columnsOf(spans);
    return {
      sql,
      columns: [
        s.text((r) => r.traceId),
        s.text((r) => r.spanId),
        s.text((r) => r.parentSpanId),
        s.text((r) => r.traceState),
        s.text((r) => r.name),
        s.integer((r) => KIND_POSITIONS[r.kind]),
        s.integer((r) => STATE_RANK[r.state]),
        s.integer((r) => STATUS_POSITIONS[r.statusCode]),
        // These two fill the distinct lists sent as $20–$23, $26 and $27, encoded after them.
        s.integer((r) => resources.positionOf(r.resource)),
        s.integer((r) => scopes.positionOf(r.scope)),
        s.unixNano((r) => r.startTime),
        s.unixNano((r) => r.endTime),
        s.text((r) => r.statusMessage),
        s.text((r) => r.attributes),
        s.text((r) => r.links),
        s.integer((r) => r.droppedAttributesCount),
        s.integer((r) => r.droppedEventsCount),
        s.integer((r) => r.droppedLinksCount),
        s.text((r) => r.crashReason),
        ...distinctColumns(resources, scopes),
        s.boolean((r) => r.endTimeEstimated),
        s.boolean((r) => r.parentIsRemote),
        ...distinctSchemaUrls(resources, scopes),
      ],
    };
  }

  /**
   * Clears the stored events of the spans whose rows replace them (replacesStoredEvents);
   * undefined, and no statement, in the common batch that holds none. `spans` sorted by key.
   */
  replaceEvents(spans: readonly SpanRow[]): BulkStatement | undefined {
    let replacing: SpanRow[] | undefined;
    for (const span of spans) if (replacesStoredEvents(span)) (replacing ??= []).push(span);
    if (replacing === undefined) return undefined;
    const r = columnsOf(replacing);
    return { sql: this.#eventsReplaced, columns: [r.text((row) => row.traceId), r.text((row) => row.spanId)] };
  }

  writeLogs(spans: readonly SpanRow[]): BulkStatement | undefined {
    const owners: SpanRow[] = [];
    const events: EventRow[] = [];
    for (const span of spans) {
      for (const event of span.events) {
        owners.push(span);
        events.push(event);
      }
    }
    if (events.length === 0) return undefined;
    const o = columnsOf(owners);
    const e = columnsOf(events);
    return {
      sql: this.#logs,
      columns: [
        o.text((r) => r.traceId),
        o.text((r) => r.spanId),
        e.integer((r) => r.eventIndex),
        e.unixNano((r) => r.time),
        e.text((r) => r.name),
        e.text((r) => r.attributes),
        e.integer((r) => r.droppedAttributesCount),
      ],
    };
  }

  writeLogRecords(logs: readonly LogRow[]): BulkStatement | undefined {
    if (logs.length === 0) return undefined;
    const resources = new Distinct<ResourceColumns>();
    const scopes = new Distinct<ScopeColumns>();
    const l = columnsOf(logs);
    // Found here, first: they fill the distinct lists sent as $13–$16 and $20–$22.
    const resourcePositions = logs.map((r) => resources.positionOf(r.resource));
    const scopePositions = logs.map((r) => scopes.positionOf(r.scope));
    return {
      sql: this.#logRecords,
      columns: [
        l.text((r) => r.writerId),
        l.bigint((r) => r.sequence),
        l.text((r) => r.traceId),
        l.text((r) => r.spanId),
        l.integer((r) => r.traceFlags),
        l.unixNano((r) => r.time),
        l.unixNano((r) => r.observedTime),
        l.integer((r) => r.severityNumber),
        l.text((r) => r.severityText),
        l.text((r) => r.body),
        l.text((r) => r.attributes),
        l.text((r) => r.eventName),
        ...distinctColumns(resources, scopes),
        l.integer((r) => r.droppedAttributesCount),
        (arena) => integerArray(resourcePositions, arena),
        (arena) => integerArray(scopePositions, arena),
        ...distinctSchemaUrls(resources, scopes),
        ...(this.scopeAttributes ? [columnsOf(scopes.values).jsonb((v) => v.attributes)] : []),
      ],
    };
  }

  upsertLogDeadLetter(log: LogKey, record: string | null, sqlState: string | null, message: string): Statement {
    return { text: this.#logDeadLetter, values: [log.writerId, log.sequence, log.traceId, log.spanId, record, sqlState, message] };
  }

  upsertDeadLetter(traceId: string, spanId: string, record: string | null, sqlState: string | null, message: string): Statement {
    return { text: this.#deadLetter, values: [traceId, spanId, record, sqlState, message] };
  }
}

/**
 * Column thunks over a batch's rows: each maps the rows by `pick` into one binary array
 * when bindColumns evaluates it (not before: a column may rely on those before it).
 */
function columnsOf<R>(rows: readonly R[]) {
  return {
    text: (pick: (row: R) => string | null) => (arena: ParameterArena) => textArray(rows.map(pick), arena),
    jsonb: (pick: (row: R) => string | null) => (arena: ParameterArena) => jsonbArray(rows.map(pick), arena),
    integer: (pick: (row: R) => number | null) => (arena: ParameterArena) => integerArray(rows.map(pick), arena),
    bigint: (pick: (row: R) => number | null) => (arena: ParameterArena) => bigintArray(rows.map(pick), arena),
    unixNano: (pick: (row: R) => UnixNano | null) => (arena: ParameterArena) => unixNanoArray(rows.map(pick), arena),
    boolean: (pick: (row: R) => boolean | null) => (arena: ParameterArena) => booleanArray(rows.map(pick), arena),
  };
}

/** Each distinct resource (JSON, service name) and scope (name, version) of a batch, once. */
function distinctColumns(resources: Distinct<ResourceColumns>, scopes: Distinct<ScopeColumns>): Column[] {
  const r = columnsOf(resources.values);
  const s = columnsOf(scopes.values);
  return [r.jsonb((v) => v.json), r.text((v) => v.serviceName), s.text((v) => v.name), s.text((v) => v.version)];
}

/** Each distinct resource's and scope's schema URL, once: added after the columns above, so they come last. */
function distinctSchemaUrls(resources: Distinct<ResourceColumns>, scopes: Distinct<ScopeColumns>): Column[] {
  return [columnsOf(resources.values).text((v) => v.schemaUrl), columnsOf(scopes.values).text((v) => v.schemaUrl)];
}

/** Each distinct object once, with its 1-based position (SQL arrays count from 1). */
class Distinct<T extends object> {
  readonly values: T[] = [];
  readonly #positions = new Map<T, number>();

  positionOf(value: T): number {
    let position = this.#positions.get(value);
    if (position === undefined) {
      position = this.values.push(value);
      this.#positions.set(value, position);
    }
    return position;
  }
}

/** What keys a log record's dead letter: its writer and sequence, and its span when known. */
export type LogKey = Pick<LogRow, 'writerId' | 'sequence' | 'traceId' | 'spanId'>;
