// A span as a row it does not yet have: its 'started' row while it runs (exportWithLogs),
// its crash record when the processor shuts down with it open (crashRecordsAtShutdown).
// The live span goes on changing while the copy waits for the exporter.
import type { HrTime, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export interface SpanEnding {
  endTime: HrTime;
  duration: HrTime;
  ended: boolean;
  status: SpanStatus;
  /** Set over the span's own attributes (the markers of its state). */
  attributes: ReadableSpan['attributes'];
}

export function spanAs(span: ReadableSpan, ending: SpanEnding): ReadableSpan {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: ending.endTime,
    status: ending.status,
    attributes: { ...span.attributes, ...ending.attributes },
    links: span.links,
    // Copied with droppedEventsCount, at once: rows are made later, and an event added
    // meanwhile at the SDK's eventCountLimit shifts the live array (the stored indexes
    // then no longer match droppedEventsCount's word that none moved).
    events: span.events.slice(),
    duration: ending.duration,
    ended: ending.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}
