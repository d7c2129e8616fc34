// A span that started and never ended in a dead process becomes a crash record: the same
// span, status ERROR, ended at the writer's last sign of life (an estimate, and marked as
// one), with the reason the process died. Built deterministically from the journal alone,
// so recovering the same journal twice yields the same rows.
import { SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { readableSpanFromRecord } from '../journal/readableSpanFromRecord.js';
import type { SpanStartRecord } from '../journal/recordTypes.js';
import { ATTR_CRASH_REASON, ATTR_END_TIME_ESTIMATED, ATTR_SPAN_STATE, ATTR_WRITER_ID } from '../spanMarkers.js';
import type { JournalFacts } from './readWriterJournal.js';
import { cutText } from '../valueLimits.js';

/** The reason of a span still open when its processor shut down: its end, if it came, was not recorded. */
export const SHUT_DOWN_WHILE_OPEN = 'the span was still open when the span processor shut down; an end after that was not recorded';

/**
 * The reason of a span the application dropped without ending it: collected while open
 * (LongOpenSpans.ts). Its end time is when the collection was noticed, an estimate.
 */
export const DROPPED_WITHOUT_END =
  'the application dropped the span without ending it (it was garbage-collected while open, end() never called); its end time is when that was noticed';

/**
 * How much of an uncaught error the exit record keeps (signsOfLife.ts cuts it so), and a
 * reason takes from one (a record written otherwise: damage, another writer, an attack). The
 * reason goes into every crash record of the journal three times (status message,
 * attribute, crash_reason): a 1 MB message was 25 MB of rows for 25 open spans, and a 10 MB
 * exit code in a journal of 200 open spans took the recovering application's heap past
 * 4 GB (an attack). The stack begins with the message, so it is cut too.
 */
export const EXIT_TEXT_LIMITS = { name: 256, message: 4096, stack: 16 * 1024, code: 64 } as const;

export function crashReason(journal: JournalFacts): string {
  // The last exit record with no heartbeat after it (readJournalFacts forgets the others).
  const exit = journal.exit;
  // Strings, whatever the record holds: a reason must never fail to be written. Cut past
  // what the writer keeps, by room for what it adds (its "… (N more characters)", " (unhandled
  // rejection)"), so that a record it wrote reads as it wrote it.
  const textOf = (part: unknown, max: number) => (part === undefined || part === null ? '' : cutText(textOfValue(part), max + 64));
  if (exit?.error) {
    // An error written otherwise (a string, say) is its message.
    const error: unknown = exit.error;
    const { name, message, stack } = (typeof error === 'object' ? error : { message: error }) as { name?: unknown; message?: unknown; stack?: unknown };
    const nameText = textOf(name, EXIT_TEXT_LIMITS.name);
    const messageText = textOf(message, EXIT_TEXT_LIMITS.message);
    const stackText = textOf(stack, EXIT_TEXT_LIMITS.stack);
    if (stackText && stackText.includes(messageText)) return `uncaught ${stackText}`;
    return `uncaught ${nameText ? `${nameText}: ` : ''}${messageText}${stackText ? `\n${stackText}` : ''}`;
  }
  // A worker thread's journal (its header names the thread) says so: its process may live
  // on, and "process exited with code 0" sent the reader to look for a process that did not.
  // (Node's threadId, 0 on the main thread; the OS thread, where /proc names it.)
  const header = journal.header;
  const writer = (typeof header?.threadId === 'number' && header.threadId > 0) || header?.osThread !== undefined ? 'worker thread' : 'process';
  if (exit?.code !== undefined) return `${writer} exited with code ${textOf(exit.code, EXIT_TEXT_LIMITS.code)} while the span was open`;
  if (exit?.shutdown) return SHUT_DOWN_WHILE_OPEN;
  // The crash record ends at the recovery's now then, the latest its end can be; the
  // reason said the heartbeat was then too, one that never happened (an attack).
  const ahead = journal.clockAhead;
  if (ahead) return `${writer} vanished; last heartbeat at ${isoTime(ahead.datedMs)} by its clock, which was ahead of this host's (${isoTime(ahead.recoveredAtMs)} when recovered)`;
  const last = journal.lastHeartbeatMs ?? journal.lastSignOfLifeMs;
  return `${writer} vanished; last heartbeat at ${isoTime(last)}`;
}

/**
 * A value read from a record as text, never throwing: an object whose `toString` is not a
 * function (`{"toString":1}`) made String() throw, and the journal failed at every
 * recovery (an attack).
 */
function textOfValue(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return '[unreadable]';
  }
}

/** A reason must never fail to be written: a time Date cannot hold is said as a number. */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? `${ms} ms after the epoch` : date.toISOString();
}

/**
 * The later of two times: an estimated end never before the span's own start, even if a
 * clock stepped back. A start the application gave as no time (NaN, Infinity; null once
 * through the journal's JSON) is earlier than any: compared as it was, the crash record
 * written at shutdown ended there, at the epoch, and the one recovery wrote did not (an attack).
 */
export function laterTime(a: HrTime, b: HrTime): HrTime {
  if (!isTime(b)) return a;
  if (!isTime(a)) return b;
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]) ? a : b;
}

function isTime(time: HrTime): boolean {
  return Number.isFinite(time[0]) && Number.isFinite(time[1]);
}

/** What marks a span as a crash record (spanMarkers.ts): its state, its reason, an estimated end, and whose journal it came from. */
export function crashAttributes(reason: string, writerId: string): Attributes {
  return {
    [ATTR_SPAN_STATE]: 'crashed',
    [ATTR_CRASH_REASON]: reason,
    [ATTR_END_TIME_ESTIMATED]: true,
    [ATTR_WRITER_ID]: writerId,
  };
}

/** A crash record made from a START alone: ended at `endMs` (never before its start), status ERROR with `reason`. */
function crashRecordAt(start: SpanStartRecord, resource: Resource, reason: string, writerId: string, endMs: number): ReadableSpan {
  return readableSpanFromRecord(start, resource, {
    endTime: laterTime(millisToHrTime(endMs), start.st),
    status: { code: SpanStatusCode.ERROR, message: reason },
    extraAttributes: crashAttributes(reason, writerId),
  });
}

/** The crash record of a span a dead process left open: ended at the writer's last sign of life. */
export function crashRecord(start: SpanStartRecord, journal: JournalFacts, resource: Resource, reason: string, writerId: string): ReadableSpan {
  return crashRecordAt(start, resource, reason, writerId, journal.lastSignOfLifeMs);
}

/** The crash record of a span the application dropped without ending it, from its START (see DROPPED_WITHOUT_END). */
export function droppedSpanRecord(start: SpanStartRecord, resource: Resource, writerId: string, noticedAtMs: number): ReadableSpan {
  return crashRecordAt(start, resource, DROPPED_WITHOUT_END, writerId, noticedAtMs);
}
