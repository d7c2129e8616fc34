import { TracerProvider as BasicTracerProvider } from '@opentelemetry/sdk-trace';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { resourceFromAttributes } from '@opentelemetry/resources';

/** A real tracer provider around the processor under test. */
export function providerWith(processor: SpanProcessor, serviceName = 'test-service'): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [processor],
  });
}
