// A small seeded PRNG (mulberry32), so that a torture run's choices (modes, kill delays,
// workload shapes, processor settings) can be repeated from the seed it prints. The
// moments the kernel schedules things at still differ from one run to the next.

/** Returns helpers over one deterministic stream of numbers in [0, 1). */
export function seededRandom(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [min, max], both included. */
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (probability) => next() < probability,
    pick: (items) => items[Math.floor(next() * items.length)],
    /** A fresh 32-bit seed, e.g. for a child's own stream. */
    seed: () => Math.floor(next() * 4294967296) >>> 0,
  };
}
