// Work on one batch shares the host's event loop in turns measured in milliseconds rather
// than counted in items: a fixed count is too coarse for one batch (a stall) or too fine
// for another. Too fine costs memory: whatever a batch holds across a turn (its spans, its
// rows) is alive when the host's own work between turns sets off scavenges, and what
// survives two is promoted to the old generation. Binding a 1024-span batch four columns
// per turn kept its rows alive across ~7 turns: under overload (bench/overload.mjs, 1M
// spans) 97 MiB were promoted and peak RSS grew by 59–96 MiB; a 512-span batch in one
// turn, 73 MiB and about 60 MiB.
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Milliseconds of work between two turns of the event loop: a batch of the processor's
 * default size behind PostgresSpanExporter (512) goes from spans to bound parameters in
 * one turn (bench/overload.mjs: p50 4.3 ms, p90 8.1, p99 12.0), a larger one in slices.
 */
const TURN_MILLIS = 16;

export class TurnBudget {
  #turnStarted = performance.now();

  /** Lets the event loop run once this turn has had its milliseconds; otherwise returns at once. */
  async pace(): Promise<void> {
    if (performance.now() - this.#turnStarted < TURN_MILLIS) return;
    await nextTurn();
    this.#turnStarted = performance.now();
  }
}
