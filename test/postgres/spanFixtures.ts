// Real spans from a real BasicTracerProvider, captured by an InMemorySpanExporter and then
// handed to the exporter under test, plus the small helpers the tests share.
import { context, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  TracerProvider as BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';

export const TEST_RESOURCE = resourceFromAttributes({ 'service.name': 'checkout', 'service.version': '1.2.3' });

/** Runs `body` with a tracer and returns every span it ended, in end order. */
export async function recordSpans(
  body: (tracer: Tracer) => void | Promise<void>,
  resource: Resource = TEST_RESOURCE,
  tracerOptions?: { schemaUrl?: string },
): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  await body(provider.getTracer('otel-blackbox-test', '0.0.1', tracerOptions));
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return spans;
}

/** `count` spans in one trace: a root and its children, each with six attributes and an event. */
export async function traceOf(count: number, label = 'span'): Promise<ReadableSpan[]> {
  return recordSpans((tracer) => {
    const root = tracer.startSpan(`${label}-root`);
    const parent = trace.setSpan(context.active(), root);
    for (let i = 1; i < count; i++) {
      const child = tracer.startSpan(`${label}-${i}`, { attributes: { index: i } }, parent);
      decorate(child, i);
      child.end();
    }
    decorate(root, 0);
    root.end();
  });
}

function decorate(span: Span, i: number): void {
  span.setAttributes({ 'http.method': 'GET', 'http.route': '/orders/:id', 'http.status_code': 200, 'user.id': `u-${i}`, 'cache.hit': i % 2 === 0 });
  span.addEvent('checkpoint', { step: i });
}

/** A copy of `span` with other attributes: what the journal's crash records look like. */
export function withAttributes(span: ReadableSpan, attributes: Attributes, overrides: Partial<ReadableSpan> = {}): ReadableSpan {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes,
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    ...overrides,
  };
}

export function exportSpans(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

export function ids(span: ReadableSpan): { traceId: string; spanId: string } {
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}
