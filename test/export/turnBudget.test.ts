// Every batch exporting at once, and the export loop starting them, spend one budget per
// turn of the event loop (src/TurnBudget.ts): with one budget each, two 2048-span batches
// ran their 16 ms slices back to back in one check phase, and the stock
// BatchSpanProcessor's forceFlush(), which hands PostgresSpanExporter its whole queue at
// once, held the event loop 770 ms. The clock is stepped, not waited on.
import { createRequire } from 'node:module';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { TurnBudget } from '../../src/TurnBudget.js';

let now = 1_000;

beforeEach(async () => {
  // A turn opened by an earlier test closes at the next timers phase.
  await new Promise((resolve) => setTimeout(resolve, 5));
  vi.spyOn(performance, 'now').mockImplementation(() => now);
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** Whether `pace()` let an immediate queued before it run first (it waited for a later turn). */
async function waited(budget: TurnBudget): Promise<boolean> {
  const order: string[] = [];
  setImmediate(() => order.push('immediate'));
  await budget.pace();
  order.push('paced');
  return order[0] === 'immediate';
}

test('a budget with time left in the turn goes on at once, without a promise to await', async () => {
  const budget = new TurnBudget();
  now += 10;
  // Awaited, every batch resumed in one microtask drain passed its check before any of
  // them worked, and then each ran a slice.
  expect(budget.pace()).toBeUndefined();
  expect(await waited(budget)).toBe(false);
});

test("a budget made in a turn another one spent waits for the next turn, and has that turn's time", async () => {
  const first = new TurnBudget();
  now += 17;
  const second = new TurnBudget();
  expect(await waited(second)).toBe(true);
  // In the next turn the clock has not moved: both have the whole turn again.
  expect(await waited(first)).toBe(false);
  expect(await waited(second)).toBe(false);
});

test('the time before the first pace() counts: a batch parsed in the turn it was made in', async () => {
  const budget = new TurnBudget();
  now += 16;
  expect(await waited(budget)).toBe(true);
});

test('with setTimeout faked (a test of the application), a spent turn still gives way to the next one', async () => {
  // The turn's closing timer never fires: the round of immediates the waiters resume in opens the next turn.
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  try {
    const budget = new TurnBudget();
    now += 17;
    expect(await waited(budget)).toBe(true);
    expect(await waited(budget)).toBe(false);
  } finally {
    vi.useRealTimers();
  }
});

test('a host that opens the turn and spends it in every timers or poll phase still leaves the waiters 4 ms in each check phase', async () => {
  // The spend is wall time since the turn's first look. A host busy 16 ms and more where
  // it also looked (it woke the export loop there) kept every batch waiting for good.
  let hostTurns = 0;
  const host = () => {
    new TurnBudget();
    if (++hostTurns < 30) setTimeout(host, 0);
    now += 20;
    // And 2 ms of real time: the host's next callback, and the turn's closing timer, are
    // due at the next timers phase, in every turn of the event loop.
    const until = Date.now() + 2;
    while (Date.now() < until);
  };
  setTimeout(host, 0);
  const budget = new TurnBudget();
  let slices = 0;
  while (hostTurns < 30) {
    const wait = budget.pace();
    if (wait) await wait;
    slices += 1;
    now += 1;
  }
  // In each check phase at least 4 ms of a turn: the first slice, and three of 1 ms after it.
  expect(slices).toBeGreaterThanOrEqual(4 * hostTurns);
});

test('the ESM and CommonJS builds of the package, both loaded, share one budget a turn', async () => {
  // An application can load both (a tracing setup required as CommonJS, an exporter
  // imported as ESM): with a state in each copy of the module, they spent two budgets a
  // turn, up to 32 ms.
  const { TurnBudget: CommonJsTurnBudget } = createRequire(import.meta.url)('../../dist/cjs/TurnBudget.js') as typeof import('../../src/TurnBudget.js');
  const esm = new TurnBudget();
  now += 17;
  const commonJs = new CommonJsTurnBudget();
  const wait = commonJs.pace();
  expect(wait).toBeInstanceOf(Promise);
  await wait;
  // Back in a later turn, with its time: the other copy sees that turn too.
  now += 1;
  expect(esm.pace()).toBeUndefined();
});
