// What a span record read back from a dead process's journal must be before it is made a
// span: its checksum holding says the bytes are those written, not that a writer wrote
// them (a crafted file, a writer's bug). Fields of the wrong type went on as spans: a
// trace id undefined or a number, a start time [null, 5] or "yesterday", a name an object
// (a review's fuzzing). PostgreSQL stored them as junk rows, and an OTLP exporter threw on
// such a time at every attempt, so the journal's good spans behind it were never recovered.
// Such a record is now unreadable, counted and said like one whose JSON does not parse.
//
// Types only, and only where a span cannot be made or exported without them (ids, name and
// times, the lists and maps exporters walk): whatever else an application gave the SDK (a
// kind or status code that is no number, a time that was an invalid Date), the writer wrote
// as the SDK held it and the live export sent on; recovery does not drop such a span.
import type { SpanEndRecord, SpanStartRecord } from '../journal/recordTypes.js';

const isText = (value: unknown): value is string => typeof value === 'string';
const isId = (value: unknown): boolean => isText(value) && value.length > 0;
const isCount = (value: unknown): boolean => value === undefined || (typeof value === 'number' && value >= 0);
/** Two numbers; null is what JSON makes of NaN, which the SDK keeps for a time given as an invalid Date: the live export sent it on. */
const isTimePart = (value: unknown): boolean => typeof value === 'number' || value === null;
const isHrTime = (value: unknown): boolean => Array.isArray(value) && value.length === 2 && isTimePart(value[0]) && isTimePart(value[1]);
const isMap = (value: unknown): boolean => value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value));

/** Why `record` cannot be a span, or undefined when it can. `ended`: an END (else a START, for a crash record). */
function malformedSpanRecord(record: unknown, ended: boolean): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return 'not an object';
  const span = record as Partial<SpanEndRecord> & Record<string, unknown>;
  if (!isId(span.t) || !isId(span.s)) return 'its trace id or span id is not a string';
  if (span.p !== undefined && !isText(span.p)) return 'its parent span id is not a string';
  if (!isText(span.n)) return 'its name is not a string';
  if (!isHrTime(span.st)) return 'its start time is not a time';
  if (typeof span.sc !== 'object' || span.sc === null) return 'it names no scope';
  if (!isMap(span.a)) return 'its attributes are not a map';
  if (!isCount(span.da) || !isCount(span.dl)) return 'a dropped count is not a number';
  if (span.l !== undefined && !(Array.isArray(span.l) && span.l.every(isLink))) return 'a link is malformed';
  if (!ended) return undefined;
  if (!isHrTime(span.et)) return 'its end time is not a time';
  if (typeof span.sx !== 'object' || span.sx === null) return 'it has no status';
  if (!Array.isArray(span.ev) || !span.ev.every(isEvent)) return 'an event is malformed';
  if (!Array.isArray(span.l)) return 'its links are not a list';
  if (!isCount(span.de)) return 'a dropped count is not a number';
  return undefined;
}

function isEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const { n, t, a, d } = event as Record<string, unknown>;
  return isText(n) && isHrTime(t) && isMap(a) && isCount(d);
}

function isLink(link: unknown): boolean {
  if (typeof link !== 'object' || link === null) return false;
  const { t, s, a, d } = link as Record<string, unknown>;
  return isText(t) && isText(s) && isMap(a) && isCount(d);
}

/**
 * `record` as the span record it claims to be; else it throws, saying why, where a span
 * would be made of it: its reader counts it as unreadable (SpanPayloads.parse).
 */
export function checkedSpanRecord<R extends SpanStartRecord | SpanEndRecord>(record: R, ended: boolean): R {
  const problem = malformedSpanRecord(record, ended);
  if (problem !== undefined) throw new Error(`otel-blackbox: a span record of a dead process's journal is malformed (${problem}): skipped`);
  return record;
}
