// Work on one batch shares the host's event loop in turns measured in milliseconds rather
// than counted in items: a fixed count is too coarse for one batch (a stall) or too fine
// for another. Too fine costs memory: whatever a batch holds across a turn (its spans, its
// rows) is alive when the host's own work between turns sets off scavenges, and what
// survives two is promoted to the old generation. Binding a 1024-span batch four columns
// per turn kept its rows alive across ~7 turns: under overload (bench/overload.mjs, 1M
// spans) 97 MiB were promoted and peak RSS grew by 59–96 MiB; a 512-span batch in one
// turn, 73 MiB and about 60 MiB.
//
// One budget for all of it: every batch exporting at once, and the export loop starting
// them, count against the same turn. Node runs every immediate queued before its check
// phase in that phase, so batches with a budget each ran their slices back to back: two
// 2048-span batches held the event loop 40-50 ms at a time, and the stock
// BatchSpanProcessor's forceFlush(), which hands PostgresSpanExporter its whole queue at
// once (196 batches of 512), 770 ms (bench/batch-drain.mjs).
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Milliseconds of work between two turns of the event loop: a batch of the processor's
 * default size behind PostgresSpanExporter (512) goes from spans to bound parameters in
 * one turn (bench/overload.mjs: p50 4.3 ms, p90 8.1, p99 12.0), a larger one in slices.
 */
const TURN_MILLIS = 16;

/** When our work in this turn of the event loop began, while a turn is open. */
let turnStarted = 0;
let turnOpen = false;
/** Which turn is open, counted. */
let turn = 0;

function openTurn(now: number): void {
  turnOpen = true;
  turnStarted = now;
  turn += 1;
  // Closed at the next timers phase: the callbacks of this poll phase and the immediates
  // of this check phase run before it, one wait for the application.
  setTimeout(closeTurn, 0).unref();
}

function closeTurn(): void {
  turnOpen = false;
}

/** Milliseconds of our work so far in this turn (since the first look in it). */
function spentThisTurn(): number {
  const now = performance.now();
  if (!turnOpen) openTurn(now);
  return now - turnStarted;
}

export class TurnBudget {
  constructor() {
    // What runs before the first pace() (a batch's parse) counts.
    spentThisTurn();
  }

  /** Lets the event loop run once this turn has had its milliseconds (ours, all batches'); otherwise returns at once. */
  async pace(): Promise<void> {
    while (spentThisTurn() >= TURN_MILLIS) {
      const spentTurn = turn;
      await nextTurn();
      if (!turnOpen || turn !== spentTurn) continue;
      // Still the spent turn: this is its check phase (it waited from a poll phase), or
      // its timer never fired. A turn of the event loop later it has passed, unless the
      // timer is faked (a test of the application): then the next turn opens here, or
      // every pace() would wait for good.
      await nextTurn();
      if (turnOpen && turn === spentTurn) openTurn(performance.now());
    }
  }
}
