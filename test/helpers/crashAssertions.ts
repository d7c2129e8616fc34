// The contract every crash test checks: each span the child's ledger says it started is
// in PostgreSQL exactly once, 'ended' if the ledger says it ended, otherwise 'crashed'
// with its parent link, status ERROR, an estimated end time and a reason.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { segmentFileName } from '../../src/journal/journalPaths.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { segmentNames } from './journalFiles.js';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import type { RecoveryReport } from '../../src/recovery/recoverJournals.js';
import type { RunningChild } from './childProcess.js';
import type { TestDatabase } from './database.js';
import { readLedger, spanKey } from './childProcess.js';

export interface SpanRow {
  span_id: string;
  parent_span_id: string | null;
  trace_id: string;
  name: string;
  state: string;
  status_code: string;
  status_message: string | null;
  crash_reason: string | null;
  end_time_estimated: boolean | null;
  start_time_unix_nano: string;
  end_time_unix_nano: string;
}

export async function expectEveryStartedSpanOnce(db: TestDatabase, schema: string, ledgerPath: string): Promise<SpanRow[]> {
  const { started, ended } = readLedger(ledgerPath);
  const entries = [...started.values()];
  const rows = await db.query<SpanRow>(
    `SELECT span_id, parent_span_id, trace_id, name, state, status_code, status_message, crash_reason,
            end_time_estimated, start_time_unix_nano::text, end_time_unix_nano::text
       FROM "${schema}".spans WHERE (trace_id, span_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [entries.map((entry) => entry.traceId), entries.map((entry) => entry.spanId)],
  );
  expect(rows.length).toBe(entries.length);
  for (const row of rows) {
    const key = spanKey(row.trace_id, row.span_id);
    const entry = started.get(key)!;
    expect(entry).toBeDefined();
    expect(row.parent_span_id ?? undefined).toBe(entry.parent);
    if (ended.has(key)) {
      expect(row.state).toBe('ended');
    } else {
      expect(row.state).toBe('crashed');
      expect(row.status_code).toBe('ERROR');
      expect(row.end_time_estimated).toBe(true);
      expect(row.crash_reason).toBeTruthy();
      expect(row.status_message).toBe(row.crash_reason);
      expect(BigInt(row.end_time_unix_nano)).toBeGreaterThanOrEqual(BigInt(row.start_time_unix_nano));
    }
  }
  const orphans = await db.count(
    `SELECT count(*) FROM "${schema}".spans s WHERE NOT EXISTS (SELECT 1 FROM "${schema}".traces t WHERE t.trace_id = s.trace_id)`,
  );
  expect(orphans).toBe(0);
  return rows;
}

/** SIGKILLs the child and waits until it is gone. */
/**
 * The segments a killed child left in `journalDir` (its only writer): more than five, each
 * read whole without damage; the live one, where it was mapped, ends in its preallocated
 * zero tail (records, then zeros).
 */
export function expectKilledJournalIntact(journalDir: string, mapped: boolean): void {
  const [writer] = readdirSync(journalDir);
  const segments = segmentNames(join(journalDir, writer!)).sort();
  expect(segments.length).toBeGreaterThan(5);
  const contents = segments.map((name) => readSegment(readFileSync(join(journalDir, writer!, name))));
  for (const segment of contents) expect(segment.damaged).toEqual([]);
  // The last file may be the spare made ahead of the next rotation: all zeros, no records yet.
  const live = contents.filter((segment) => segment.records.length > 0).at(-1)!;
  expect(live.zeroTail).toBe(mapped);
}

export async function killed(child: RunningChild): Promise<void> {
  child.child.kill('SIGKILL');
  expect((await child.exited).signal).toBe('SIGKILL');
}

/**
 * Recovers `journalDir` into `schema` through a PostgresSpanExporter of its own.
 * `writtenForAnotherDestination`: the child exported elsewhere on purpose (an unreachable
 * database, so that nothing is committed live; an exporter that never answers), so its
 * journal names that destination, not this one.
 */
export async function recoverInto(db: TestDatabase, schema: string, journalDir: string, writtenForAnotherDestination = false): Promise<RecoveryReport> {
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    return await recoverJournals({ journalDir, exporter, recoverAnyDestination: writtenForAnotherDestination });
  } finally {
    await exporter.shutdown();
  }
}

/**
 * Once the child's first segment is deleted (committed, unlinked on the thread pool: a
 * START written there lives on only as a carried copy), SIGKILLs it, recovers its journal
 * and checks every span it started, as expectEveryStartedSpanOnce.
 */
export async function killOnceFirstSegmentIsGoneThenRecover(db: TestDatabase, schema: string, child: RunningChild, journalDir: string, ledger: string): Promise<SpanRow[]> {
  const [writer] = readdirSync(journalDir);
  await expect.poll(() => readdirSync(join(journalDir, writer!)), { timeout: 10_000 }).not.toContain(segmentFileName(1));
  await killed(child);
  const report = await recoverInto(db, schema, journalDir);
  expect(report.failures).toEqual([]);
  return expectEveryStartedSpanOnce(db, schema, ledger);
}
