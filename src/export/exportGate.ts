// The SpanExporter and LogRecordExporter contracts: export() is never called concurrently
// for one exporter. The processor calls its exporter from three places that run at the same
// time: the export loop, its recovery of dead journals, and at shutdown the crash records
// of the spans still open. Each kept to its own count, and together they made two calls at
// once (a review). A gate per exporter holds them to one count together: every call made
// through exportBatch.ts passes it. Only exporters given a limit have one (not ours:
// PostgresSpanExporter takes batches at once over its pool).
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { LogRecordExporter } from '../logRecordTypes.js';
import { storesInPostgres } from './SpansAndLogs.js';

export interface Gate {
  readonly limit: number;
  running: number;
  readonly waiting: Array<() => void>;
}

const gates = new WeakMap<object, Gate>();

/** From now on, calls to `exporter` go at most `limit` at a time. The first limit given stays. */
function limitExportCalls(exporter: object, limit: number): void {
  if (!gates.has(exporter)) gates.set(exporter, { limit, running: 0, waiting: [] });
}

/**
 * Gates `exporter` and `logExporter` (which it calls between the spans of one batch and the
 * next) at `limit` calls each, unless the exporter is ours (storesInPostgres), which takes
 * the log records itself.
 */
export function limitExportCallsOfOthers(exporter: SpanExporter, logExporter: LogRecordExporter | undefined, limit: number): void {
  if (storesInPostgres(exporter)) return;
  limitExportCalls(exporter, limit);
  if (logExporter !== undefined) limitExportCalls(logExporter, limit);
}

/** The gate calls to `exporter` pass (limitExportCalls), if it has one. */
export function gateOf(exporter: object): Gate | undefined {
  return gates.get(exporter);
}

/**
 * Resolves with the function that ends the call once it may start (at once, where there
 * is room), or with undefined if `signal` aborts first.
 */
export function enterGate(gate: Gate, signal: AbortSignal | undefined): Promise<(() => void) | undefined> {
  if (gate.running < gate.limit) return Promise.resolve(enter(gate));
  return new Promise((resolve) => {
    const start = (): void => {
      signal?.removeEventListener('abort', giveUp);
      resolve(enter(gate));
    };
    const giveUp = (): void => {
      const at = gate.waiting.indexOf(start);
      if (at >= 0) gate.waiting.splice(at, 1);
      resolve(undefined);
    };
    gate.waiting.push(start);
    signal?.addEventListener('abort', giveUp, { once: true });
  });
}

function enter(gate: Gate): () => void {
  gate.running += 1;
  let left = false;
  return () => {
    if (left) return;
    left = true;
    gate.running -= 1;
    gate.waiting.shift()?.();
  };
}
