// START and END payloads as JSON text, built by concatenation on the application's thread.
// Building a record object and JSON.stringify-ing it (spanRecords.ts) costs 1.0 µs for a
// START and 1.4 µs for an END of the bench span; this writes the same keys in 0.9 µs and,
// reusing the START's text, 0.17 µs (bench/processor-overhead.mjs prints all four): the fixed parts are
// written as text, the scope once per scope, and only the attribute maps go through
// JSON.stringify. Whatever this path cannot vouch for is left to the object path, which
// copies carefully and caps: an id that is not a string, a time that is not a finite
// number, a name that is not a string, attributes that are not plain, links, a record too
// large for one frame. Readers cannot tell the two paths apart (test/journal/spanRecordJson.test.ts).
// An END repeats its START's text (readers need no START to read an END), but reuses what
// the START wrote while it still holds: the fields before the attributes unless the span
// was renamed, and the attributes' JSON unless they changed (a snapshot of their keys and
// values tells, at a tenth of the cost of serialising them again).
import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { attributesSnapshot, isPlainAttributes, unchangedSince } from './attributeValues.js';
import { fitsInFrame } from './recordCap.js';
import { endRecord, recordJson, scopeOf, startRecord } from './spanRecords.js';
import { traceStateText } from '../traceStateText.js';

/** `,"sc":{...},"r":` for a scope: one per tracer, written once. */
const scopeText = new WeakMap<ReadableSpan['instrumentationScope'], string>();

function scopeFragment(span: ReadableSpan): string {
  const scope = span.instrumentationScope;
  let text = scopeText.get(scope);
  if (text === undefined) {
    text = `,"sc":${JSON.stringify(scopeOf(span))},"r":`;
    scopeText.set(scope, text);
  }
  return text;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && value - value === 0;
}

/** `[s,ns]`, or undefined when the time is not two finite numbers. */
function hrTimeText(time: HrTime): string | undefined {
  return Array.isArray(time) && isFiniteNumber(time[0]) && isFiniteNumber(time[1]) ? `[${time[0]},${time[1]}]` : undefined;
}

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}

/**
 * The START's fields before the attributes' value, up to and including `"a":`; undefined
 * when the object path must write the span. Nothing in it changes after the start but the
 * name (updateName), so the writer keeps it for the END of a span whose name is unchanged.
 * Ids go through JSON.stringify like the object path's: faster than proving them hex.
 */
export function startPrefix(span: ReadableSpan): string | undefined {
  const context = span.spanContext();
  const { traceId, spanId, traceFlags } = context;
  const parent = span.parentSpanContext;
  const startTime = hrTimeText(span.startTime);
  if (
    typeof traceId !== 'string' ||
    typeof spanId !== 'string' ||
    (parent && typeof parent.spanId !== 'string') ||
    !isFiniteNumber(traceFlags) ||
    !isFiniteNumber(span.kind) ||
    typeof span.name !== 'string' ||
    startTime === undefined
  ) {
    return undefined;
  }
  let text = `{"t":${JSON.stringify(traceId)},"s":${JSON.stringify(spanId)}`;
  if (parent) text += parent.isRemote === true ? `,"p":${JSON.stringify(parent.spanId)},"pr":1` : `,"p":${JSON.stringify(parent.spanId)}`;
  const traceState = traceStateText(context.traceState);
  if (traceState) text += `,"ts":${JSON.stringify(traceState)}`;
  return `${text},"f":${traceFlags},"n":${JSON.stringify(span.name)},"k":${span.kind},"st":${startTime},"a":`;
}

/**
 * What a span's START was written with, kept by the writer while the span is open: what
 * its END can reuse of it, and the span, to write its START again (carrying forward); once
 * the span has been open a while, held weakly (holdWeakly, LongOpenSpans.ts).
 *
 * A class, not an object literal, like the rows of postgres/spanRows.ts: once spans had
 * been left open (long jobs, a leak), V8 pretenured the literal's site, every later
 * span's entry was made in the old generation, and each kept its span, ended or not,
 * alive through the scavenges until a full collection. With 10,000 spans open the
 * scavenges took 4x as long and the old generation filled with ended spans
 * (bench/open-spans.mjs prints the collector's time).
 */
export class StartText {
  #span: ReadableSpan | undefined;
  /** startPrefix() as the START was written, and the name it holds. */
  prefix: string | undefined;
  readonly name: string;
  /** The attributes' JSON as the START wrote it, and their keys and values then; undefined when they hold arrays or are not plain. */
  attributes: string | undefined;
  snapshot: unknown[] | undefined;
  /** Once held weakly (holdWeakly): the span, until collected, and the START's text. One field, not three: every span's entry is made with it. */
  #weakly: WeaklyHeld | undefined;
  /** The look (LongOpenSpans) that first found the span open; 0 before any did. */
  firstSeenAtLook = 0;

  constructor(span: ReadableSpan) {
    this.#span = span;
    // Flat from the start. Built with `+`, the prefix is, in V8, a tree of its ~15 pieces
    // (a rope): ~500 bytes for a span that stays open, against ~180 flat; 200,000 spans
    // opened in one turn held 97 MiB more (bench/open-burst.mjs). It costs the hot path
    // nothing measurable: the START and END texts built on it are flattened anyway when they
    // are encoded into the journal, and a flat piece makes that cheaper.
    const prefix = startPrefix(span);
    this.prefix = prefix === undefined ? undefined : flatString(prefix);
    this.name = span.name;
    const attributes: unknown = span.attributes;
    this.snapshot = this.prefix !== undefined && typeof attributes === 'object' && attributes !== null ? attributesSnapshot(attributes) : undefined;
    this.attributes = this.snapshot === undefined ? undefined : JSON.stringify(attributes);
  }

  /** The span, or undefined once it was held weakly and has been collected. */
  get span(): ReadableSpan | undefined {
    return this.#span ?? this.#weakly?.span.deref();
  }

  get heldWeakly(): boolean {
    return this.#weakly !== undefined;
  }

  /** Once held weakly: the START as written, to write it again (carrying forward) or to make the span's crash record from. */
  get startJson(): string | undefined {
    return this.#weakly?.startJson;
  }

  /** Its span was collected while open, and its crash record is on its way (LongOpenSpans). */
  get abandoned(): boolean {
    return this.#weakly?.abandoned === true;
  }

  markAbandoned(): void {
    this.#weakly!.abandoned = true;
  }

  /**
   * What an END of `span` can reuse: this, when `span` is the span it was made for and its
   * texts are still kept (not once held weakly).
   */
  reusableFor(span: ReadableSpan): StartText | undefined {
    return this.#span === span ? this : undefined;
  }

  /**
   * From now on the span is held weakly, so that one the application drops without ending
   * it can be collected, as the stock processor lets it be. Kept instead: the START's text
   * (`startJson`, as this writer would write it now), which is all a carry or a crash
   * record needs; the texts an END would reuse go (its END encodes the span afresh).
   */
  holdWeakly(startJson: string): ReadableSpan {
    const span = this.#span!;
    // Flat (see the constructor): it may be kept for as long as the process lives.
    this.#weakly = new WeaklyHeld(new WeakRef(span), flatString(startJson));
    this.#span = undefined;
    this.prefix = undefined;
    this.attributes = undefined;
    this.snapshot = undefined;
    return span;
  }
}

/**
 * `text` as one flat string. V8 flattens a rope it takes a slice of, and the slice is a view
 * of that flat copy; a rope is then let go. Reading a character of a rope flattened it in
 * place up to V8 11 (Node.js 20) only: on Node.js 22 and 24 it left the rope as it was
 * (test/processor/openSpanMemory.test.ts failed there).
 */
function flatString(text: string): string {
  return ` ${text}`.slice(1);
}

class WeaklyHeld {
  readonly span: WeakRef<ReadableSpan>;
  readonly startJson: string;
  abandoned = false;

  constructor(span: WeakRef<ReadableSpan>, startJson: string) {
    this.span = span;
    this.startJson = startJson;
  }
}

/**
 * The START fields from the attributes on, without the closing brace; undefined when the
 * object path must write it. `attributesJson`: their JSON when the caller knows it.
 */
function attributesAndScope(span: ReadableSpan, resourceId: number, attributesJson: string | undefined): string | undefined {
  if (attributesJson === undefined) {
    const attributes = span.attributes;
    if (typeof attributes !== 'object' || attributes === null || !isPlainAttributes(attributes)) return undefined;
    attributesJson = JSON.stringify(attributes);
  }
  return `${attributesJson}${scopeFragment(span)}${resourceId}`;
}

/** `[{...},...]` of the events, or undefined when one of them needs the object path. */
function eventsText(events: TimedEvent[]): string | undefined {
  if (events.length === 0) return '[]';
  let text = '[';
  for (let i = 0; i < events.length; i++) {
    const event = events[i];
    const time = hrTimeText(event.time);
    if (typeof event.name !== 'string' || time === undefined) return undefined;
    text += `${i === 0 ? '' : ','}{"n":${JSON.stringify(event.name)},"t":${time}`;
    const attributes = event.attributes;
    if (attributes !== undefined && attributes !== null && hasKeys(attributes)) {
      if (!isPlainAttributes(attributes)) return undefined;
      text += `,"a":${JSON.stringify(attributes)}`;
    }
    if (event.droppedAttributesCount) {
      if (!isFiniteNumber(event.droppedAttributesCount)) return undefined;
      text += `,"d":${event.droppedAttributesCount}`;
    }
    text += '}';
  }
  return `${text}]`;
}

/**
 * The SPAN_START payload of `span`: the same JSON as recordJson(startRecord(span, resourceId)).
 * `start`: what the caller keeps for the END, when it does.
 */
export function startRecordJson(span: ReadableSpan, resourceId: number, start = new StartText(span)): string {
  const rest = start.prefix === undefined ? undefined : attributesAndScope(span, resourceId, start.attributes);
  const counts = rest === undefined ? undefined : startCountsText(span);
  const json = counts === undefined ? undefined : `${start.prefix}${rest}${counts}}`;
  return json !== undefined && fitsInFrame(json) ? json : recordJson(startRecord(span, resourceId));
}

/**
 * The dropped counts a START carries when they are not 0 (spanRecords.ts, putStartOnlyKnowns):
 * usually ''. undefined when the object path must write the span: it has links (written
 * there only), or a count that is not a finite number.
 */
function startCountsText(span: ReadableSpan): string | undefined {
  const { links, droppedAttributesCount, droppedLinksCount } = span;
  if (!Array.isArray(links) || links.length > 0) return undefined;
  if (!droppedAttributesCount && !droppedLinksCount) return '';
  if (!isFiniteNumber(droppedAttributesCount) || !isFiniteNumber(droppedLinksCount)) return undefined;
  return `${droppedAttributesCount ? `,"da":${droppedAttributesCount}` : ''}${droppedLinksCount ? `,"dl":${droppedLinksCount}` : ''}`;
}

/**
 * The SPAN_END payload of `span`: the same JSON as recordJson(endRecord(span, resourceId)).
 * `start`: what its START was written with (the StartText of this very span), when known.
 */
export function endRecordJson(span: ReadableSpan, resourceId: number, start?: StartText): string {
  let json: string | undefined;
  if (span.links.length === 0) {
    const renamed = start === undefined || start.name !== span.name;
    const prefix = renamed ? startPrefix(span) : start.prefix;
    const attributes = start?.snapshot !== undefined && unchangedSince(span.attributes, start.snapshot) ? start.attributes : undefined;
    json = endText(span, resourceId, prefix, attributes);
  }
  return json !== undefined && fitsInFrame(json) ? json : recordJson(endRecord(span, resourceId));
}

function endText(span: ReadableSpan, resourceId: number, prefix: string | undefined, attributesJson: string | undefined): string | undefined {
  const rest = prefix === undefined ? undefined : attributesAndScope(span, resourceId, attributesJson);
  const endTime = hrTimeText(span.endTime);
  const events = eventsText(span.events);
  const { code, message } = span.status;
  const { droppedAttributesCount, droppedEventsCount, droppedLinksCount } = span;
  if (
    rest === undefined ||
    endTime === undefined ||
    events === undefined ||
    !isFiniteNumber(code) ||
    (message !== undefined && typeof message !== 'string') ||
    !isFiniteNumber(droppedAttributesCount) ||
    !isFiniteNumber(droppedEventsCount) ||
    !isFiniteNumber(droppedLinksCount)
  ) {
    return undefined;
  }
  const status = message === undefined ? `{"c":${code}}` : `{"c":${code},"m":${JSON.stringify(message)}}`;
  return `${prefix}${rest},"et":${endTime},"sx":${status},"ev":${events},"l":[],"da":${droppedAttributesCount},"de":${droppedEventsCount},"dl":${droppedLinksCount}}`;
}
