// Our own work makes no spans. An instrumentation (of the file system, the network, DNS)
// traces whatever runs while tracing is not suppressed: the exporter's statements, and the
// journal's file calls (untracedFs.ts), run with it suppressed, outside any span of the
// application's.
import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

const UNTRACED = suppressTracing(ROOT_CONTEXT);

/** Calls `fn` with tracing suppressed, outside any span of the application's. */
export function untraced<R>(fn: () => R): R {
  return context.with(UNTRACED, fn);
}
