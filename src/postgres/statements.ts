// Statements with their parameters for a set of rows: one array per column, in the
// binary array format (binaryArray.ts), matching the SQL in statementSql.ts.
import { bigintArray, booleanArray, integerArray, jsonbArray, textArray } from './binaryArray.js';
import { positions, SPAN_KINDS, STATUS_CODES } from './columnCodes.js';
import type { QuotedSchema } from './schemaName.js';
import type { ResourceColumns, ScopeColumns, SpanRow } from './spanRows.js';
import { STATE_RANK } from './statePrecedence.js';
import { deadLetterSql, logsSql, spansSql, tracesSql } from './statementSql.js';
import type { TraceRow } from './traceRows.js';

export interface Statement {
  text: string;
  values: unknown[];
}

const KIND_POSITIONS = positions(SPAN_KINDS);
const STATUS_POSITIONS = positions(STATUS_CODES);

export class Statements {
  readonly #traces: string;
  readonly #spans: string;
  readonly #logs: string;
  readonly #deadLetter: string;

  constructor(schema: QuotedSchema) {
    this.#traces = tracesSql(schema);
    this.#spans = spansSql(schema);
    this.#logs = logsSql(schema);
    this.#deadLetter = deadLetterSql(schema);
  }

  upsertTraces(traces: readonly TraceRow[]): Statement {
    return {
      text: this.#traces,
      values: [
        textArray(traces.map((t) => t.traceId)),
        textArray(traces.map((t) => t.serviceName)),
        textArray(traces.map((t) => t.rootSpanId)),
        textArray(traces.map((t) => t.rootSpanName)),
        bigintArray(traces.map((t) => t.startUnixNano)),
        bigintArray(traces.map((t) => t.endUnixNano)),
      ],
    };
  }

  upsertSpans(spans: readonly SpanRow[]): Statement {
    const resources = new Distinct<ResourceColumns>();
    const scopes = new Distinct<ScopeColumns>();
    const text = (pick: (s: SpanRow) => string | null) => textArray(spans.map(pick));
    const integer = (pick: (s: SpanRow) => number) => integerArray(spans.map(pick));
    return {
      text: this.#spans,
      values: [
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
        bigintArray(spans.map((s) => s.startUnixNano)),
        bigintArray(spans.map((s) => s.endUnixNano)),
        text((s) => s.statusMessage),
        jsonbArray(spans.map((s) => s.attributes)),
        jsonbArray(spans.map((s) => s.links)),
        integer((s) => s.droppedAttributesCount),
        integer((s) => s.droppedEventsCount),
        integer((s) => s.droppedLinksCount),
        text((s) => s.crashReason),
        jsonbArray(resources.values.map((r) => r.json)),
        textArray(resources.values.map((r) => r.serviceName)),
        textArray(scopes.values.map((s) => s.name)),
        textArray(scopes.values.map((s) => s.version)),
        booleanArray(spans.map((s) => s.endTimeEstimated)),
      ],
    };
  }

  insertLogs(spans: readonly SpanRow[]): Statement | undefined {
    const events = spans.flatMap((span) => span.events.map((event) => ({ span, event })));
    if (events.length === 0) return undefined;
    return {
      text: this.#logs,
      values: [
        textArray(events.map((e) => e.span.traceId)),
        textArray(events.map((e) => e.span.spanId)),
        integerArray(events.map((e) => e.event.eventIndex)),
        bigintArray(events.map((e) => e.event.timeUnixNano)),
        textArray(events.map((e) => e.event.name)),
        jsonbArray(events.map((e) => e.event.attributes)),
        integerArray(events.map((e) => e.event.droppedAttributesCount)),
      ],
    };
  }

  upsertDeadLetter(traceId: string, spanId: string, record: string | null, sqlState: string | null, message: string): Statement {
    return { text: this.#deadLetter, values: [traceId, spanId, record, sqlState, message] };
  }
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
