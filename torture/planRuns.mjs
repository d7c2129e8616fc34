// Which mode each run of a torture dies by, in a seeded random order so that the modes
// mix over the whole run rather than coming in blocks.

export const MODES = Object.freeze(['sigkill', 'uncaught', 'abort', 'oom', 'shutdown']);
/** SIGKILL is what a process manager, the OOM killer or a container runtime mostly does. */
const SIGKILL_SHARE = 0.7;

/**
 * @param {{ runs?: number, modes: readonly string[] | Record<string, number> }} plan
 *   `modes` as names: `runs` split among them, SIGKILL taking 70% when others are named too;
 *   as counts (`{ sigkill: 12, oom: 2 }`): exactly those, and `runs` is their sum.
 * @param {ReturnType<import('./seededRandom.mjs').seededRandom>} random
 * @returns {string[]}
 */
export function planRuns({ runs, modes }, random) {
  const counts = Array.isArray(modes) ? splitRuns(runs, modes) : { ...modes };
  const plan = [];
  for (const [mode, count] of Object.entries(counts)) {
    if (!MODES.includes(mode)) throw new Error(`unknown torture mode ${JSON.stringify(mode)}: expected one of ${MODES.join(', ')}`);
    if (!Number.isInteger(count) || count < 0) throw new Error(`runs for mode ${mode}: expected a whole number >= 0, got ${count}`);
    for (let i = 0; i < count; i++) plan.push(mode);
  }
  for (let i = plan.length - 1; i > 0; i--) {
    const j = random.int(0, i);
    [plan[i], plan[j]] = [plan[j], plan[i]];
  }
  return plan;
}

function splitRuns(runs, modes) {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs: expected a whole number >= 1, got ${runs}`);
  if (modes.length === 0) throw new Error('modes: expected at least one mode');
  const others = [...new Set(modes)].filter((mode) => mode !== 'sigkill');
  const sigkill = !modes.includes('sigkill') ? 0 : others.length === 0 ? runs : Math.round(runs * SIGKILL_SHARE);
  const counts = sigkill > 0 ? { sigkill } : {};
  const rest = runs - sigkill;
  others.forEach((mode, index) => {
    counts[mode] = Math.floor(rest / others.length) + (index < rest % others.length ? 1 : 0);
  });
  return counts;
}
