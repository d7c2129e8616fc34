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
/**
 * What waiters get of a turn at least: a look in the poll phase before them (a database
 * answer, the export loop woken) counts against them, but never all of it, or a host busy
 * 16 ms in every poll phase kept them waiting for good.
 */
const MIN_SLICE_MILLIS = 4;

/** When our work in this turn of the event loop began, while a turn is open. */
let turnStarted = 0;
let turnOpen = false;
/** Which turn is open, counted. */
let turn = 0;
/** The open turn was opened by a waiter back from nextTurn() (a check phase), not by a look elsewhere. */
let openedOnResume = false;

function openTurn(startedAt: number, onResume: boolean): void {
  turnOpen = true;
  turnStarted = startedAt;
  turn += 1;
  openedOnResume = onResume;
  // Closed at the next timers phase: the callbacks of this poll phase and the immediates
  // of this check phase run before it, one wait for the application.
  setTimeout(closeTurn, 0).unref();
}

function closeTurn(): void {
  turnOpen = false;
}

/** Milliseconds spent in this turn since its first look. */
function spentThisTurn(): number {
  const now = performance.now();
  if (!turnOpen) openTurn(now, false);
  return now - turnStarted;
}

/** Resolves in a later turn of the event loop, with time in it for a slice. */
async function waitForTurn(): Promise<void> {
  let spentTurn = turn;
  for (;;) {
    await nextTurn();
    if (turnOpen && turn === spentTurn) {
      // Still the spent turn: this is its check phase (the wait began in a poll phase),
      // or its timer never fired. A turn of the event loop later it has passed, unless
      // the timer is faked (a test of the application): then it ends here, or every
      // waiter would wait for good.
      await nextTurn();
      if (turnOpen && turn === spentTurn) closeTurn();
    }
    // The first waiter back opens the turn the waiters of this check phase share, and
    // takes its slice whatever the clock says. What a look in this poll phase spent
    // counts, but leaves them MIN_SLICE_MILLIS: the spend is wall time, the host's work
    // in it too, and a host busy 16 ms in every poll phase, where it also woke the export
    // loop, kept every batch waiting (a review: 2,048 spans exported in 3 s, 79,872
    // before the budget was shared).
    if (!turnOpen || !openedOnResume) {
      const now = performance.now();
      openTurn(turnOpen ? Math.max(turnStarted, now - (TURN_MILLIS - MIN_SLICE_MILLIS)) : now, true);
      return;
    }
    if (performance.now() - turnStarted < TURN_MILLIS) return;
    spentTurn = turn;
  }
}

/**
 * A batch's handle on the budget of the turn, which all handles share: it holds no state
 * of its own. Made where a batch's work begins, so that what runs before its first pace()
 * counts.
 */
export class TurnBudget {
  constructor() {
    // What runs before the first pace() (a batch's parse) counts.
    spentThisTurn();
  }

  /**
   * Undefined while this turn has time left: the caller goes on at once, without an await
   * (`const wait = turn.pace(); if (wait) await wait;`). Awaited, the check let every batch
   * resumed in the same microtask drain pass it before any of them worked, and then each
   * ran a slice (196 batches handed over at once: ~60 ms). Otherwise a promise of a
   * later turn with time in it.
   */
  pace(): Promise<void> | undefined {
    return spentThisTurn() < TURN_MILLIS ? undefined : waitForTurn();
  }
}
