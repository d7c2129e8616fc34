// A span's context as stored: its row made from the live span (the export path) and its row
// made from the journal's START (a crash record, and the START an END is merged with after a
// crash) must agree. An attack found two ways they did not, for contexts an application or a
// propagator of its own builds by hand:
// - a trace state that is not the SDK's parsed TraceState (plain text, or an object whose
//   serialize() gives text the SDK would not) was stored as it was live, and reparsed by
//   recovery: 'a=1 , b=2' came back as 'a=1,b=2', anything over 512 characters as nothing;
// - an isRemote that is truthy but not true ('yes') was false in the live row and true
//   after recovery, for the parent and for links.
import { TraceFlags, context, trace, type SpanContext } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, test } from 'vitest';
import { readableSpanFromRecord } from '../../src/journal/readableSpanFromRecord.js';
import type { SpanStartRecord } from '../../src/journal/recordTypes.js';
import { recordJson, startRecord } from '../../src/journal/spanRecords.js';
import { startRecordJson } from '../../src/journal/spanRecordJson.js';
import { SpanRowConverter } from '../../src/postgres/spanRows.js';

const RESOURCE = resourceFromAttributes({ 'service.name': 'contexts' });
const PARENT = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
const HUGE = `k=${'v'.repeat(5000)}`;

function spanWith(parent: Partial<SpanContext>, link: Partial<SpanContext>): ReadableSpan {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource: RESOURCE, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const parentContext = trace.setSpanContext(context.active(), { ...PARENT, ...parent } as SpanContext);
  provider.getTracer('contexts').startSpan('child', { links: [{ context: { ...PARENT, ...link } as SpanContext }] }, parentContext).end();
  return exporter.getFinishedSpans()[0]!;
}

/** What the row stores of the context: the span's trace state, whether its parent is remote, and its links. */
function contextColumns(span: ReadableSpan) {
  const row = new SpanRowConverter().toRow(span);
  return { traceState: row.traceState, parentIsRemote: row.parentIsRemote, links: JSON.parse(row.links) as unknown };
}

/** The same columns from the journal's START, written by the object path and by the text path (the hot path's). */
function fromJournal(span: ReadableSpan) {
  const written = [recordJson(startRecord(span, 0)), startRecordJson(span, 0)];
  return written.map((json) => contextColumns(readableSpanFromRecord(JSON.parse(json) as SpanStartRecord, RESOURCE)));
}

describe("a hand-made context is stored alike from the live span and from the journal's START", () => {
  test.each([
    ['text with spaces', 'a=1 , b=2'],
    ['text the SDK would not parse', 'not a tracestate;;;'],
    ['text over 512 characters', HUGE],
    ['an object whose serialize() gives text the SDK would rewrite', { serialize: () => 'x=1,,y=2, bad key=3' }],
  ])('a trace state given as %s', (_, traceState) => {
    const span = spanWith({ traceState: traceState as never }, { traceState: traceState as never });
    const live = contextColumns(span);
    expect(live.traceState).toBe(typeof traceState === 'string' ? traceState : traceState.serialize());
    for (const recovered of fromJournal(span)) expect(recovered).toEqual(live);
  });

  test.each([
    ['a truthy value that is not true', 'yes', false],
    ['true', true, true],
    ['1', 1, false],
  ])('isRemote given as %s', (_, isRemote, stored) => {
    const span = spanWith({ isRemote: isRemote as never }, { isRemote: isRemote as never });
    const live = contextColumns(span);
    expect(live.parentIsRemote).toBe(stored);
    expect(live.links).toMatchObject([{ is_remote: stored }]);
    for (const recovered of fromJournal(span)) expect(recovered).toEqual(live);
  });
});
