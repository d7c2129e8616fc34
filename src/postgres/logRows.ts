// A log record → the values of one `logs` row (kind 'log'), sanitised, JSON already
// serialised; and the 'started' row a log record's span gets when the batch does not
// carry that span, so no log row of a sampled span is ever committed without a row of its
// span (one of a span not sampled has its ids and no span row: inSampledSpan).
import { TraceFlags, type HrTime } from '@opentelemetry/api';
import type { KeyedLogRecord } from '../export/SpansAndLogs.js';
import { count, hexId, type ResourceColumns, type ScopeColumns, type SpanRow, type SpanRowConverter } from './spanRows.js';
import { sanitizeOptionalString, toJsonText, toOptionalJsonText } from './sanitize.js';
import { toUnixNano, toUnixNanoOrNull, type UnixNano } from './unixNano.js';

export interface LogRow {
  writerId: string;
  sequence: number;
  /** Both null for a record emitted outside any span. */
  traceId: string | null;
  spanId: string | null;
  traceFlags: number | null;
  time: UnixNano;
  observedTime: UnixNano | null;
  severityNumber: number | null;
  severityText: string | null;
  /** JSON text, or null when the record has no body. */
  body: string | null;
  attributes: string;
  eventName: string | null;
  droppedAttributesCount: number;
  resource: ResourceColumns;
  scope: ScopeColumns;
}

/** Name of the row that stands for a span known only from its log records. */
export const SPAN_KNOWN_FROM_LOGS_NAME = 'otel_blackbox.span_known_from_logs';

const INVALID_TRACE_ID = '00000000000000000000000000000000';
const INVALID_SPAN_ID = '0000000000000000';

export function toLogRow(keyed: KeyedLogRecord, spans: SpanRowConverter): LogRow {
  const record = keyed.logRecord;
  const context = record.spanContext;
  let traceId: string | null = null;
  let spanId: string | null = null;
  if (context !== undefined) {
    traceId = hexId(context.traceId);
    spanId = hexId(context.spanId);
    if (traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID || traceId === '' || spanId === '') traceId = spanId = null;
  }
  // A time that is not two finite numbers (`timestamp: NaN`) is no time: the observed one stands in, not 1970.
  const observedTime = finiteTime(record.hrTimeObserved);
  const time = finiteTime(record.hrTime) ?? observedTime ?? toUnixNano(record.hrTimeObserved);
  const severity = record.severityNumber;
  return {
    writerId: sanitizeOptionalString(keyed.writerId) ?? '',
    sequence: keyed.sequence,
    traceId,
    spanId,
    traceFlags: traceId === null ? null : (context?.traceFlags ?? TraceFlags.NONE) & 0xff,
    time,
    observedTime,
    // An integer column: a number it cannot hold made binding the whole batch throw.
    severityNumber: typeof severity === 'number' && Number.isInteger(severity) && Math.abs(severity) <= 2_147_483_647 ? severity : null,
    severityText: sanitizeOptionalString(record.severityText),
    // The application's own objects, as handed to onEmit: toJsonText copies what is not
    // plain with care (bytes as base64, cycles, throwing getters, MAX_VALUES).
    body: toOptionalJsonText(record.body),
    attributes: toJsonText(record.attributes ?? {}),
    eventName: sanitizeOptionalString(record.eventName),
    droppedAttributesCount: count(record.droppedAttributesCount),
    resource: spans.resourceColumns(record.resource),
    scope: spans.scopeColumns(record.instrumentationScope),
  };
}

function finiteTime(time: HrTime | undefined): UnixNano | null {
  return Array.isArray(time) && Number.isFinite(time[0]) && Number.isFinite(time[1]) ? toUnixNanoOrNull(time) : null;
}

/**
 * Whether the log record's span was sampled, so that its row comes (or came) from its
 * process. One emitted in a span recorded but not sampled keeps its ids, with flags 0, and
 * has no span row: a 'started' stand-in would never end. Prune takes it by its own time.
 */
export function inSampledSpan(log: LogRow): boolean {
  return log.traceId !== null && ((log.traceFlags ?? 0) & TraceFlags.SAMPLED) !== 0;
}

/** inSampledSpan() in SQL, of a `logs` row with ids, `alias` its table's prefix (`l.`, or ''): flags are set wherever ids are. */
export function inSampledSpanSql(alias: string): string {
  return `COALESCE(${alias}trace_flags, 1) & ${TraceFlags.SAMPLED} = ${TraceFlags.SAMPLED}`;
}

/** Whether `span` is a stand-in row (spanRowFromLog): its times are a log record's, its parent unknown. */
export function isStandIn(span: SpanRow): boolean {
  return span.state === 'started' && span.name === SPAN_KNOWN_FROM_LOGS_NAME && span.parentSpanId === null;
}

/** isStandIn() in SQL, of the spans row `alias` (`t`, `EXCLUDED`). */
export function standInSql(alias: string): string {
  return `(${alias}.state = 'started' AND ${alias}.name = '${SPAN_KNOWN_FROM_LOGS_NAME}' AND ${alias}.parent_span_id IS NULL)`;
}

/**
 * The 'started' row for a span the batch does not carry, from what its log record tells.
 * It never replaces a stored row (the statement inserts it only where none exists), and
 * the span's own row, started, ended or crashed, replaces it later by precedence.
 */
export function spanRowFromLog(log: LogRow): SpanRow {
  return {
    traceId: log.traceId!,
    spanId: log.spanId!,
    parentSpanId: null,
    parentIsRemote: null,
    traceState: null,
    name: SPAN_KNOWN_FROM_LOGS_NAME,
    kind: 'INTERNAL',
    state: 'started',
    // When the line was emitted (the span was open then), not the time the application
    // gave it: a backdated line made a new trace's row start years early, for good.
    startTime: log.observedTime ?? log.time,
    endTime: null,
    statusCode: 'UNSET',
    statusMessage: null,
    attributes: '{}',
    resource: log.resource,
    scope: log.scope,
    links: '[]',
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    crashReason: null,
    endTimeEstimated: false,
    events: [],
  };
}
