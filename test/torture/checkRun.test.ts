// The torture checker itself: it must call an END that the ledger saw but PostgreSQL holds
// as a crash record a problem in every mode (SIGKILL, abort and OOM included), since END
// is journaled before span.end() returns; after a clean shutdown began, such an end may
// have come too late, and only then does the crash record stand. A checker that shrugs is
// no safety net.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkRun } from '../../torture/checkRun.mjs';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const db = new TestDatabase();
const tempDir = useTempDirs();
let schema: string;
useMigratedSchema(db, 'torture_check_run', (name) => (schema = name));

const REASONS: Record<string, string> = {
  sigkill: 'process vanished; last heartbeat at 2026-01-01T00:00:00.000Z',
  abort: 'process vanished; last heartbeat at 2026-01-01T00:00:00.000Z',
  oom: 'process vanished; last heartbeat at 2026-01-01T00:00:00.000Z',
  uncaught: 'uncaught Error: torture: uncaught exception',
  shutdown: 'the span was still open when the span processor shut down; an end after that was not recorded',
};

describe.each(Object.keys(REASONS))('mode %s', (mode) => {
  /** `late`: the crashed span's end is marked as having come after the processor shut down. */
  async function runWith(crashedSpanEndedInLedger: boolean, { late = false, marker = mode === 'shutdown' } = {}) {
    // One trace per mode and case, so the cases never see each other's rows.
    const traceId = `${Object.keys(REASONS).indexOf(mode)}${crashedSpanEndedInLedger ? 1 : 0}${late ? 1 : 0}${marker ? 1 : 0}`.padStart(32, 'c');
    const [root, child] = ['aaaaaaaaaaaaaaa1', 'aaaaaaaaaaaaaaa2'];
    await db.query(`DELETE FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
    await db.query(`DELETE FROM "${schema}".traces WHERE trace_id = $1`, [traceId]);
    await db.query(`INSERT INTO "${schema}".traces (trace_id, start_time, start_time_unix_nano) VALUES ($1, now(), 1)`, [traceId]);
    const reason = REASONS[mode]!;
    await db.query(
      `INSERT INTO "${schema}".spans (trace_id, span_id, parent_span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano,
                                      status_code, status_message, crash_reason, end_time_estimated)
       VALUES ($1, $2, NULL, 'root', 'SERVER', 'crashed', now(), 1, now(), 2, 'ERROR', $4, $4, true),
              ($1, $3, $2, 'child', 'INTERNAL', 'crashed', now(), 1, now(), 2, 'ERROR', $4, $4, true)`,
      [traceId, root, child, reason],
    );
    const ledger: object[] = [{ e: 's', t: traceId, s: root, p: null }, { e: 's', t: traceId, s: child, p: root }];
    if (marker) ledger.push({ e: 'x' });
    // An end after the shutdown began; `late`: after the processor had shut down, as the workload marks it.
    if (crashedSpanEndedInLedger) ledger.push({ e: 'e', t: traceId, s: child, n: 0, ...(late ? { l: 1 } : {}) });
    const ledgerPath = join(tempDir(), 'ledger.jsonl');
    writeFileSync(ledgerPath, ledger.map((line) => `${JSON.stringify(line)}\n`).join(''));
    return checkRun({ pool: db.pool, schema, ledgerPath, service: `check-${mode}`, mode });
  }

  it('passes two honest crash records', async () => {
    const { stats, findings } = await runWith(false);
    expect(findings).toEqual([]);
    expect(stats).toMatchObject({ started: 2, crashed: 2, problems: 0, endedButCrashed: 0 });
  });

  it('calls a span that ended in the ledger but is a crash record a problem', async () => {
    const { stats, findings } = await runWith(true);
    expect(stats).toMatchObject({ started: 2, crashed: 2, endedButCrashed: 1, problems: 1 });
    expect(findings.join('\n')).toMatch(/1 spans ended .* but are crash records/);
  });

  if (mode !== 'shutdown') return;

  it('lets a crash record stand only for a span that ended once the processor had shut down', async () => {
    const { stats, findings } = await runWith(true, { late: true });
    expect(findings).toEqual([]);
    expect(stats).toMatchObject({ started: 2, crashed: 2, endedButCrashed: 0, problems: 0 });
    // Ended while the processor was shutting down (after the marker): its END had to be recorded.
    const whileStopping = await runWith(true);
    expect(whileStopping.stats).toMatchObject({ endedButCrashed: 1, problems: 1 });
  });

  it('calls a run without the shutdown marker a problem', async () => {
    const { stats, findings } = await runWith(false, { marker: false });
    expect(stats.problems).toBe(1);
    expect(findings.join('\n')).toMatch(/never began its clean shutdown/);
  });
});

// A span id is unique within its trace only: two traces may each have a span with the same
// id, and the checker must hold each against its own ledger lines.
it('tells apart spans of two traces that share a span id', async () => {
  const [ended, crashed] = ['e'.repeat(32), 'f'.repeat(32)];
  const shared = 'bbbbbbbbbbbbbbb1';
  const reason = REASONS.sigkill!;
  for (const traceId of [ended, crashed]) {
    await db.query(`DELETE FROM "${schema}".spans WHERE trace_id = $1`, [traceId]);
    await db.query(`DELETE FROM "${schema}".traces WHERE trace_id = $1`, [traceId]);
    await db.query(`INSERT INTO "${schema}".traces (trace_id, start_time, start_time_unix_nano) VALUES ($1, now(), 1)`, [traceId]);
  }
  await db.query(
    `INSERT INTO "${schema}".spans (trace_id, span_id, name, kind, state, start_time, start_time_unix_nano, end_time, end_time_unix_nano,
                                    status_code, status_message, crash_reason, end_time_estimated)
     VALUES ($1, $3, 'ended one', 'SERVER', 'ended', now(), 1, now(), 2, 'UNSET', NULL, NULL, false),
            ($2, $3, 'crashed one', 'SERVER', 'crashed', now(), 1, now(), 2, 'ERROR', $4, $4, true)`,
    [ended, crashed, shared, reason],
  );
  const ledger = [
    { e: 's', t: ended, s: shared, p: null },
    { e: 's', t: crashed, s: shared, p: null },
    { e: 'e', t: ended, s: shared, n: 0 },
  ];
  const ledgerPath = join(tempDir(), 'ledger.jsonl');
  writeFileSync(ledgerPath, ledger.map((line) => `${JSON.stringify(line)}\n`).join(''));
  const { stats, findings } = await checkRun({ pool: db.pool, schema, ledgerPath, service: 'check-shared-span-id', mode: 'sigkill' });
  expect(findings).toEqual([]);
  expect(stats).toMatchObject({ started: 2, ended: 1, crashed: 1, duplicated: 0, endedButCrashed: 0, problems: 0 });
});
