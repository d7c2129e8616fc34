// The marker span that makes dropped spans visible wherever spans are stored.
import { SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { hrTimeDuration, millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ATTR_DROPPED_LOG_RECORDS, ATTR_DROPPED_SPANS, OVERFLOW_SPAN_NAME } from '../spanMarkers.js';
import { droppedInEpisode, type DropEpisode } from './DropCounter.js';

export function overflowSpan(episode: DropEpisode, resource: Resource): ReadableSpan {
  const spanContext = { traceId: episode.traceId, spanId: episode.spanId, traceFlags: TraceFlags.SAMPLED };
  const startTime = millisToHrTime(episode.firstMs);
  const endTime = millisToHrTime(episode.lastMs);
  const message = `${droppedInEpisode(episode)} dropped: ${episode.reasons.join('; ')}`;
  return {
    name: OVERFLOW_SPAN_NAME,
    kind: SpanKind.INTERNAL,
    spanContext: () => spanContext,
    parentSpanContext: undefined,
    startTime,
    endTime,
    status: { code: SpanStatusCode.ERROR, message },
    attributes: {
      [ATTR_DROPPED_SPANS]: episode.count,
      ...(episode.logRecords > 0 ? { [ATTR_DROPPED_LOG_RECORDS]: episode.logRecords } : {}),
      'otel_blackbox.drop.reasons': episode.reasons,
    },
    links: [],
    events: [],
    duration: hrTimeDuration(startTime, endTime),
    ended: true,
    resource,
    instrumentationScope: { name: 'otel-blackbox' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
