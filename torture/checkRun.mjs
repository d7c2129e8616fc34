// Holds PostgreSQL against one run's ledger, after recovery. Every query is scoped to the
// run's traces (the ledger's trace ids, plus any trace row of the run's service.name in
// case a root span started but was killed before its ledger line), and goes through a key
// that starts with trace_id, so a run's check stays fast however many runs came before.
import { readLedger, spanKey } from './ledger.mjs';
import { emptyStats } from './runStats.mjs';

/** Kills land between span.end() and its ledger line at most once per run; so do starts. */
const AT_MOST_ONE_PER_RUN = 1;

/**
 * @returns {Promise<{ stats: import('./runStats.mjs').RunStats, findings: string[] }>}
 */
export async function checkRun({ pool, schema, ledgerPath, service, mode }) {
  const q = `"${schema}"`;
  const ledger = readLedger(ledgerPath);
  const traceIds = new Set([...ledger.starts.values()].map((start) => start.traceId));
  const serviceTraces = await pool.query(`SELECT trace_id FROM ${q}.traces WHERE service_name = $1`, [service]);
  for (const row of serviceTraces.rows) traceIds.add(row.trace_id);
  const ids = [...traceIds];

  const [spans, traces, logs, deadLetters] = await Promise.all([
    pool.query(
      `SELECT trace_id, span_id, parent_span_id, state, status_code, status_message, crash_reason, end_time_estimated,
              start_time_unix_nano::text AS start_ns, end_time_unix_nano::text AS end_ns
         FROM ${q}.spans WHERE trace_id = ANY($1::text[])`,
      [ids],
    ),
    pool.query(`SELECT trace_id FROM ${q}.traces WHERE trace_id = ANY($1::text[])`, [ids]),
    pool.query(`SELECT trace_id, span_id, count(*)::int AS events FROM ${q}.logs WHERE trace_id = ANY($1::text[]) GROUP BY 1, 2`, [ids]),
    pool.query(`SELECT trace_id, span_id, error_message FROM ${q}.dead_letters WHERE trace_id = ANY($1::text[])`, [ids]),
  ]);

  // Every finding is described in `findings`; lost, duplicated and orphans have their own
  // counts, every other broken promise counts as a problem.
  const findings = [];
  const stats = { ...emptyStats(), runs: 1 };
  const problem = (text) => {
    stats.problems += 1;
    findings.push(text);
  };

  // By trace id and span id, as PostgreSQL keys them: a span id is unique within its trace
  // only. A span stored under another trace than its own is lost here and unledgered below.
  const rowsBySpan = new Map();
  for (const row of spans.rows) {
    const key = spanKey(row.trace_id, row.span_id);
    const same = rowsBySpan.get(key);
    if (same) same.push(row);
    else rowsBySpan.set(key, [row]);
  }
  for (const [spanId, rows] of rowsBySpan) {
    if (rows.length > 1) {
      stats.duplicated += rows.length - 1;
      findings.push(`span ${spanId} has ${rows.length} rows: ${rows.map((row) => row.state).join(', ')}`);
    }
  }

  // A clean shutdown kills nothing between a span call and its ledger line.
  const slack = mode === 'shutdown' ? 0 : AT_MOST_ONE_PER_RUN;
  const eventsBySpan = new Map(logs.rows.map((row) => [spanKey(row.trace_id, row.span_id), row.events]));
  const lostIds = [];
  let endedUnledgered = 0;
  for (const [spanId, start] of ledger.starts) {
    const row = rowsBySpan.get(spanId)?.[0];
    if (!start.sampled) {
      if (row) problem(`span ${spanId} was recorded but not sampled, yet PostgreSQL has it (state ${row.state})`);
      continue;
    }
    stats.started += 1;
    if (!row) {
      stats.lost += 1;
      lostIds.push(spanId);
      continue;
    }
    if ((row.parent_span_id ?? null) !== start.parent) {
      problem(`span ${spanId}: parent ${row.parent_span_id} in PostgreSQL, ${start.parent} in the ledger`);
    }
    const endedInLedger = ledger.ends.has(spanId);
    if (row.state === 'ended') {
      stats.ended += 1;
      if (endedInLedger) {
        const events = ledger.ends.get(spanId);
        const stored = eventsBySpan.get(spanId) ?? 0;
        if (stored !== events) problem(`span ${spanId} ended with ${events} events; PostgreSQL has ${stored} log rows for it`);
      } else {
        endedUnledgered += 1;
      }
    } else if (row.state === 'crashed') {
      stats.crashed += 1;
      // An end that came once the span processor had shut down (the workload says so in the
      // ledger) could not be recorded: the crash record it wrote at shutdown stands, as
      // documented. An end while it was shutting down must be recorded like any other.
      if (endedInLedger && !ledger.endedLate.has(spanId)) stats.endedButCrashed += 1;
      const wrong = crashRecordFault(row, mode);
      if (wrong) problem(`crash record ${spanId}: ${wrong}`);
    } else {
      problem(`span ${spanId} has state ${JSON.stringify(row.state)}`);
    }
  }
  if (mode === 'shutdown' && !ledger.shutdownStarted) problem('the workload never began its clean shutdown (no marker in the ledger)');
  if (lostIds.length > 0) findings.push(`${lostIds.length} started spans are not in PostgreSQL, e.g. ${lostIds.slice(0, 5).join(', ')}`);
  if (endedUnledgered > slack) {
    problem(`${endedUnledgered} spans are 'ended' in PostgreSQL but their end is not in the ledger (a kill explains one)`);
  }
  // END is written to the journal before onEnd returns, so before span.end() returns and
  // before the ledger line that follows it: an END the ledger saw is on disk in every
  // mode, including deaths that run no JavaScript (SIGKILL, abort, OOM). One such span is
  // a lost END, whatever the mode.
  if (stats.endedButCrashed > 0) {
    problem(`${stats.endedButCrashed} spans ended (the ledger saw span.end() return) but are crash records: their END was not in the journal (${mode})`);
  }

  const unledgered = [...rowsBySpan.keys()].filter((spanId) => !ledger.starts.has(spanId));
  stats.unledgered = unledgered.length;
  if (unledgered.length > slack) {
    problem(`${unledgered.length} spans of this run are in PostgreSQL but not in the ledger (a kill explains one): ${unledgered.slice(0, 5).join(', ')}`);
  }

  const traceRows = new Set(traces.rows.map((row) => row.trace_id));
  const orphanSpans = spans.rows.filter((row) => !traceRows.has(row.trace_id));
  const orphanLogs = logs.rows.filter((row) => !rowsBySpan.has(spanKey(row.trace_id, row.span_id)));
  stats.orphans = orphanSpans.length + orphanLogs.length;
  if (orphanSpans.length > 0) findings.push(`${orphanSpans.length} spans without their trace row, e.g. trace ${orphanSpans[0].trace_id}`);
  if (orphanLogs.length > 0) findings.push(`${orphanLogs.length} spans' events without the span row, e.g. span ${orphanLogs[0].span_id}`);

  for (const row of deadLetters.rows) problem(`span ${spanKey(row.trace_id, row.span_id)} went to dead_letters: ${row.error_message}`);
  if (ledger.tornLines > slack) problem(`${ledger.tornLines} unreadable ledger lines (a kill explains one)`);
  return { stats, findings };
}

/** What is wrong with a crash record, or undefined. */
function crashRecordFault(row, mode) {
  if (row.status_code !== 'ERROR') return `status ${row.status_code}, expected ERROR`;
  if (row.end_time_estimated !== true) return 'end time not marked as an estimate';
  if (!row.crash_reason || row.status_message !== row.crash_reason) return `reason ${JSON.stringify(row.crash_reason)}, status message ${JSON.stringify(row.status_message)}`;
  if (row.end_ns === null || BigInt(row.end_ns) < BigInt(row.start_ns)) return `ends (${row.end_ns}) before it starts (${row.start_ns})`;
  const expected = {
    uncaught: /^uncaught [\s\S]*torture: uncaught exception/,
    shutdown: /^the span was still open when the span processor shut down; /,
  }[mode] ?? /^process vanished; last heartbeat at \d{4}-/;
  if (!expected.test(row.crash_reason)) return `reason ${JSON.stringify(row.crash_reason.slice(0, 200))} does not match ${expected}`;
  return undefined;
}
