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

interface TurnState {
  /** When our work in this turn of the event loop began, while a turn is open. */
  started: number;
  open: boolean;
  /** Which turn is open, counted. */
  count: number;
  /** The open turn was opened by a waiter back from nextTurn() (a check phase), not by a look elsewhere. */
  openedOnResume: boolean;
}

/**
 * One state a process. An application that loads both builds of the package (a tracing
 * setup required as CommonJS, an exporter imported as ESM) has two copies of this module,
 * and with a state each they spent two budgets a turn. The key names the state's shape: a
 * release that changes the shape changes the key.
 */
const STATE_KEY = Symbol.for('otel-blackbox.turn-budget.v1');
const state: TurnState = sharedState();

function sharedState(): TurnState {
  const own: TurnState = { started: 0, open: false, count: 0, openedOnResume: false };
  try {
    return ((globalThis as { [STATE_KEY]?: TurnState })[STATE_KEY] ??= own);
  } catch {
    // A globalThis made non-extensible: a state of this copy's own, as before.
    return own;
  }
}

function openTurn(startedAt: number, onResume: boolean): void {
  state.open = true;
  state.started = startedAt;
  state.count += 1;
  state.openedOnResume = onResume;
  // Closed at the next timers phase: the callbacks of this poll phase and the immediates
  // of this check phase run before it, one wait for the application.
  setTimeout(closeTurn, 0).unref();
}

function closeTurn(): void {
  state.open = false;
}

/** Milliseconds spent in this turn since its first look. */
function spentThisTurn(): number {
  const now = performance.now();
  if (!state.open) openTurn(now, false);
  return now - state.started;
}

/** Resolves in a later turn of the event loop, with time in it for a slice. */
async function waitForTurn(): Promise<void> {
  let spentTurn = state.count;
  for (;;) {
    await nextTurn();
    if (state.open && state.count === spentTurn) {
      // Still the spent turn: this is its check phase (the wait began in a poll phase),
      // or its timer never fired. A turn of the event loop later it has passed, unless
      // the timer is faked (a test of the application): then it ends here, or every
      // waiter would wait for good.
      await nextTurn();
      if (state.open && state.count === spentTurn) closeTurn();
    }
    // The first waiter back opens the turn the waiters of this check phase share, and
    // takes its slice whatever the clock says. What a look in this poll phase spent
    // counts, but leaves them MIN_SLICE_MILLIS: the spend is wall time, the host's work
    // in it too, and a host busy 16 ms in every poll phase, where it also woke the export
    // loop, kept every batch waiting (a review: 2,048 spans exported in 3 s, 79,872
    // before the budget was shared).
    if (!state.open || !state.openedOnResume) {
      const now = performance.now();
      openTurn(state.open ? Math.max(state.started, now - (TURN_MILLIS - MIN_SLICE_MILLIS)) : now, true);
      return;
    }
    if (performance.now() - state.started < TURN_MILLIS) return;
    spentTurn = state.count;
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
