// A span context's trace state as text. The API types it as a TraceState, but a context
// made by hand may hold anything there (the text 'k=v', an object without serialize):
// reading it threw in onStart and onEnd, and the span was never journaled, so it had no
// row and no crash record (a review). Text is taken as it is; anything else that cannot
// serialize is no trace state.
export function traceStateText(traceState: unknown): string | undefined {
  if (typeof traceState === 'string') return traceState === '' ? undefined : traceState;
  if (typeof traceState !== 'object' || traceState === null) return undefined;
  try {
    const serialize = (traceState as { serialize?: unknown }).serialize;
    const text: unknown = typeof serialize === 'function' ? serialize.call(traceState) : undefined;
    return typeof text === 'string' && text !== '' ? text : undefined;
  } catch {
    return undefined;
  }
}
