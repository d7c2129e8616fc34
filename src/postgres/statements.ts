// Statements with their parameters for a set of rows: one array per column, in the
// binary array format (binaryArray.ts), matching the SQL in statementSql.ts.
import { bigintArray, booleanArray, integerArray, jsonbArray, textArray, unixNanoArray } from './binaryArray.js';
import { positions, SPAN_KINDS, STATUS_CODES } from './columnCodes.js';
import type { QuotedSchema } from './schemaName.js';
import type { EventRow, ResourceColumns, ScopeColumns, SpanRow } from './spanRows.js';
import { STATE_RANK } from './statePrecedence.js';
import { deadLetterSql, logDeadLetterSql, logRecordsSql, logsSql, spansSql, tracesSql } from './statementSql.js';
import type { LogRow } from './logRows.js';
import type { TraceRow } from './traceRows.js';

export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * A statement over a batch of rows: its parameters, one array per column, are encoded
 * column by column by `bindColumns`, which lets the host's event loop run between them
 * (a 2048-span batch's spans statement took 10–25 ms to encode in one go).
 */
export interface BulkStatement {
  text: string;
  /** Evaluated in order: a column may rely on those before it. */
  columns: (() => unknown)[];
}

/** Columns encoded between two turns of the event loop. */
const COLUMNS_PER_TURN = 4;

export async function bindColumns(statement: BulkStatement): Promise<Statement> {
  const values: unknown[] = [];
  for (const column of statement.columns) {
    if (values.length > 0 && values.length % COLUMNS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    values.push(column());
  }
  return { text: statement.text, values };
}

const KIND_POSITIONS = positions(SPAN_KINDS);
const STATUS_POSITIONS = positions(STATUS_CODES);

/**
 * How spans and events meet rows already stored: `upsert` merges by precedence (and
 * skips stored events); `fail` is a plain INSERT that fails with 23505 on any stored row.
 */
export type ConflictMode = 'upsert' | 'fail';

export class Statements {
  readonly #traces: string;
  readonly #spans: Record<ConflictMode | 'keep', string>;
  readonly #logs: Record<ConflictMode, string>;
  readonly #logRecords: Record<ConflictMode, string>;
  readonly #deadLetter: string;
  readonly #logDeadLetter: string;

  constructor(schema: QuotedSchema) {
    this.#traces = tracesSql(schema);
    this.#spans = { upsert: spansSql(schema, 'upsert'), fail: spansSql(schema, 'fail'), keep: spansSql(schema, 'keep') };
    this.#logs = { upsert: logsSql(schema, 'upsert'), fail: logsSql(schema, 'fail') };
    this.#logRecords = { upsert: logRecordsSql(schema, 'upsert'), fail: logRecordsSql(schema, 'fail') };
    this.#deadLetter = deadLetterSql(schema);
    this.#logDeadLetter = logDeadLetterSql(schema);
  }

  upsertTraces(traces: readonly TraceRow[]): BulkStatement {
    return {
      text: this.#traces,
      columns: [
        () => textArray(traces.map((t) => t.traceId)),
        () => textArray(traces.map((t) => t.serviceName)),
        () => textArray(traces.map((t) => t.rootSpanId)),
        () => textArray(traces.map((t) => t.rootSpanName)),
        () => unixNanoArray(traces.map((t) => t.startTime)),
        () => unixNanoArray(traces.map((t) => t.endTime)),
      ],
    };
  }

  /** `keep`: insert only spans with no stored row (rows standing for spans known from their logs). */
  writeSpans(spans: readonly SpanRow[], mode: ConflictMode | 'keep'): BulkStatement {
    const resources = new Distinct<ResourceColumns>();
    const scopes = new Distinct<ScopeColumns>();
    const text = (pick: (s: SpanRow) => string | null) => () => textArray(spans.map(pick));
    const integer = (pick: (s: SpanRow) => number) => () => integerArray(spans.map(pick));
    return {
      text: this.#spans[mode],
      columns: [
        text((s) => s.traceId),
        text((s) => s.spanId),
        text((s) => s.parentSpanId),
        text((s) => s.traceState),
        text((s) => s.name),
        integer((s) => KIND_POSITIONS[s.kind]),
        integer((s) => STATE_RANK[s.state]),
        integer((s) => STATUS_POSITIONS[s.statusCode]),
        integer((s) => resources.positionOf(s.resource)),
        integer((s) => scopes.positionOf(s.scope)),
        () => unixNanoArray(spans.map((s) => s.startTime)),
        () => unixNanoArray(spans.map((s) => s.endTime)),
        text((s) => s.statusMessage),
        text((s) => s.attributes),
        text((s) => s.links),
        integer((s) => s.droppedAttributesCount),
        integer((s) => s.droppedEventsCount),
        integer((s) => s.droppedLinksCount),
        text((s) => s.crashReason),
        () => jsonbArray(resources.values.map((r) => r.json)),
        () => textArray(resources.values.map((r) => r.serviceName)),
        () => textArray(scopes.values.map((s) => s.name)),
        () => textArray(scopes.values.map((s) => s.version)),
        () => booleanArray(spans.map((s) => s.endTimeEstimated)),
      ],
    };
  }

  writeLogs(spans: readonly SpanRow[], mode: ConflictMode): BulkStatement | undefined {
    const owners: SpanRow[] = [];
    const events: EventRow[] = [];
    for (const span of spans) {
      for (const event of span.events) {
        owners.push(span);
        events.push(event);
      }
    }
    if (events.length === 0) return undefined;
    return {
      text: this.#logs[mode],
      columns: [
        () => textArray(owners.map((s) => s.traceId)),
        () => textArray(owners.map((s) => s.spanId)),
        () => integerArray(events.map((e) => e.eventIndex)),
        () => unixNanoArray(events.map((e) => e.time)),
        () => textArray(events.map((e) => e.name)),
        () => textArray(events.map((e) => e.attributes)),
        () => integerArray(events.map((e) => e.droppedAttributesCount)),
      ],
    };
  }

  writeLogRecords(logs: readonly LogRow[], mode: ConflictMode): BulkStatement | undefined {
    if (logs.length === 0) return undefined;
    const resources = new Distinct<ResourceColumns>();
    const scopes = new Distinct<ScopeColumns>();
    const text = (pick: (l: LogRow) => string | null) => () => textArray(logs.map(pick));
    const integer = (pick: (l: LogRow) => number | null) => () => integerArray(logs.map(pick));
    // The positions fill the distinct lists sent as $13–$16, so the first of those
    // columns computes them (once), though they are sent later, as $18 and $19.
    const resourcePositions = once(integer((l) => resources.positionOf(l.resource)));
    const scopePositions = once(integer((l) => scopes.positionOf(l.scope)));
    return {
      text: this.#logRecords[mode],
      columns: [
        text((l) => l.writerId),
        () => bigintArray(logs.map((l) => l.sequence)),
        text((l) => l.traceId),
        text((l) => l.spanId),
        integer((l) => l.traceFlags),
        () => unixNanoArray(logs.map((l) => l.time)),
        () => unixNanoArray(logs.map((l) => l.observedTime)),
        integer((l) => l.severityNumber),
        text((l) => l.severityText),
        text((l) => l.body),
        text((l) => l.attributes),
        text((l) => l.eventName),
        () => {
          resourcePositions();
          scopePositions();
          return jsonbArray(resources.values.map((r) => r.json));
        },
        () => textArray(resources.values.map((r) => r.serviceName)),
        () => textArray(scopes.values.map((s) => s.name)),
        () => textArray(scopes.values.map((s) => s.version)),
        integer((l) => l.droppedAttributesCount),
        resourcePositions,
        scopePositions,
      ],
    };
  }

  upsertLogDeadLetter(log: LogRow, record: string | null, sqlState: string | null, message: string): Statement {
    return { text: this.#logDeadLetter, values: [log.writerId, log.sequence, log.traceId, log.spanId, record, sqlState, message] };
  }

  upsertDeadLetter(traceId: string, spanId: string, record: string | null, sqlState: string | null, message: string): Statement {
    return { text: this.#deadLetter, values: [traceId, spanId, record, sqlState, message] };
  }
}

function once<T>(compute: () => T): () => T {
  let done = false;
  let value: T;
  return () => {
    if (!done) {
      value = compute();
      done = true;
    }
    return value;
  };
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
