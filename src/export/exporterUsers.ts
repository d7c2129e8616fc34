// One exporter given to several processors (two TracerProviders of one application, a
// test harness, a setup that builds the exporter once): the first processor's shutdown
// shut it down under the others, whose batches then failed with "exporter is shut down"
// at every retry until their flush timeout (25 s), and stayed in their journals (an
// attack). Each processor counts itself a user of its exporters; the exporter is shut
// down with the last of them.

// In a registry both builds of this package share (CommonJS and ESM, loaded side by side:
// their processors work together): a count per build let one build's processor shut the
// exporter down under the other's (a review).
const REGISTRY = Symbol.for('otel-blackbox: exporter users, v1');
const users: WeakMap<object, number> = ((globalThis as { [REGISTRY]?: WeakMap<object, number> })[REGISTRY] ??= new WeakMap());

/** `exporter` is used by one processor more, until it calls lastUserOf(). */
export function useExporter(exporter: object | undefined): void {
  if (exporter !== undefined) users.set(exporter, (users.get(exporter) ?? 0) + 1);
}

/** The calling processor stops using `exporter`: true when it was the last, whose shutdown is then the exporter's. */
export function lastUserOf(exporter: object | undefined): boolean {
  if (exporter === undefined) return false;
  const left = (users.get(exporter) ?? 1) - 1;
  if (left > 0) users.set(exporter, left);
  else users.delete(exporter);
  return left <= 0;
}
