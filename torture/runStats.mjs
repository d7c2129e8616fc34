// The counts a torture run reports, per run, per mode and in total, and the line that
// prints them.

/**
 * @typedef {object} RunStats
 * @property {number} runs
 * @property {number} started spans the ledgers say started (sampled ones)
 * @property {number} ended of those, rows with state 'ended'
 * @property {number} crashed of those, crash records
 * @property {number} lost started, and not in PostgreSQL at all
 * @property {number} duplicated rows beyond the first for one span id
 * @property {number} orphans spans without their trace row, span events without their span row
 * @property {number} problems every other broken promise (wrong parent, bad crash record,
 *   lost span events, an END lost (ended-but-crashed), a failed recovery, a child that
 *   died of something other than its mode, ...), each described in the run's findings
 * @property {number} endedButCrashed ended in the ledger, crash record in PostgreSQL: an END
 *   that span.end() returned from but that never reached the journal. Must be 0 in every
 *   mode; each one is also counted in `problems`
 * @property {number} unledgered in PostgreSQL, not in the ledger: killed between
 *   startSpan() returning and the ledger line (at most one a run)
 */

/** @returns {RunStats} */
export function emptyStats() {
  return { runs: 0, started: 0, ended: 0, crashed: 0, lost: 0, duplicated: 0, orphans: 0, problems: 0, endedButCrashed: 0, unledgered: 0 };
}

/** Adds `more` into `into`, and returns `into`. */
export function addStats(into, more) {
  for (const key of Object.keys(into)) into[key] += more[key];
  return into;
}

/** Whether these counts break the promise: anything lost, written twice, orphaned or otherwise wrong. */
export function isFailure(stats) {
  return stats.lost > 0 || stats.duplicated > 0 || stats.orphans > 0 || stats.problems > 0;
}

const number = new Intl.NumberFormat('en-US');

export function formatStats(label, stats) {
  const field = (name, value, width) => `${name} ${number.format(value).padStart(width)}`;
  return [
    label.padEnd(9),
    field('runs', stats.runs, 4),
    field('started', stats.started, 9),
    field('ended', stats.ended, 9),
    field('crashed', stats.crashed, 6),
    field('lost', stats.lost, 1),
    field('duplicated', stats.duplicated, 1),
    field('orphans', stats.orphans, 1),
    field('problems', stats.problems, 1),
    field('ended-but-crashed', stats.endedButCrashed, 3),
    field('unledgered', stats.unledgered, 2),
  ].join('  ');
}
