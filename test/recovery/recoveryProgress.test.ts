// A recovery that is stopped — given back after its attempts ran out, or killed with the
// application it runs in — resumes where it stopped instead of exporting again everything
// it had committed (issue #9: a 550 MiB journal redone at every restart of a crash-looping
// application). Counted with a real PostgreSQL and real journals: the second run gets only
// the ENDs the first did not commit (plus every crash record, which is idempotent), and the
// database ends with every span once.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { RECOVERY_PROGRESS_FILE } from '../../src/journal/journalPaths.js';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { probeWriter } from '../../src/recovery/probeWriter.js';
import { ATTR_SPAN_STATE } from '../../src/spanMarkers.js';
import { runFixture } from '../helpers/childProcess.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
const exporters: PostgresSpanExporter[] = [];
afterEach(() => diag.disable());
afterAll(async () => {
  await Promise.all(exporters.map((exporter) => exporter.shutdown()));
  await db.close();
});

const SPANS = 3000;
const BATCH = 100;

async function freshExporter(label: string): Promise<{ schema: string; exporter: PostgresSpanExporter }> {
  const schema = await db.freshSchema(label);
  await migrateSchema(db.pool, schema);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  exporters.push(exporter);
  return { schema, exporter };
}

/**
 * Forwards to a real exporter and keeps what committed. After `successes` calls every call
 * fails, as if the database went away: calls are made in the order batches are sent, so
 * exactly the first `successes` batches commit, whatever order their commits finish in.
 */
class CutAfter implements SpanExporter {
  readonly committed: ReadableSpan[] = [];
  calls = 0;

  constructor(
    private readonly target: SpanExporter,
    private readonly successes = Number.POSITIVE_INFINITY,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.calls += 1;
    if (this.calls > this.successes) {
      setImmediate(() => resultCallback({ code: ExportResultCode.FAILED, error: new Error('connection cut (test)') }));
      return;
    }
    this.target.export(spans, (result) => {
      if (result.code === ExportResultCode.SUCCESS) this.committed.push(...spans);
      resultCallback(result);
    });
  }

  ended(): number {
    return this.committed.filter((span) => span.attributes[ATTR_SPAN_STATE] !== 'crashed').length;
  }

  async shutdown(): Promise<void> {}
}

/**
 * Batches 1 and 2 commit; batch 3 fails, but only once batches 4 and 5 have committed
 * after it; every later call fails. Four batches are in flight at once, so 5 is sent as
 * soon as 1 or 2 is done.
 */
class FailsThirdAfterLaterCommits implements SpanExporter {
  readonly committedByCall = new Map<number, ReadableSpan[]>();
  #calls = 0;
  #fourAndFiveCommitted!: () => void;
  readonly #fourAndFive = new Promise<void>((resolve) => (this.#fourAndFiveCommitted = resolve));

  constructor(private readonly target: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const call = ++this.#calls;
    const fail = () => resultCallback({ code: ExportResultCode.FAILED, error: new Error(`batch ${call} failed (test)`) });
    if (call === 3) void this.#fourAndFive.then(fail);
    else if (call > 5) setImmediate(fail);
    else {
      this.target.export(spans, (result) => {
        if (result.code === ExportResultCode.SUCCESS) this.committedByCall.set(call, spans);
        if (this.committedByCall.has(4) && this.committedByCall.has(5)) this.#fourAndFiveCommitted();
        resultCallback(result);
      });
    }
  }

  endedIn(...calls: number[]): number {
    return calls.flatMap((call) => this.committedByCall.get(call) ?? []).filter((span) => span.attributes[ATTR_SPAN_STATE] !== 'crashed').length;
  }

  async shutdown(): Promise<void> {}
}

async function rowsByState(schema: string): Promise<Record<string, number>> {
  const rows = await db.query<{ state: string; n: number; distinct_ids: number }>(
    `SELECT state, count(*)::int AS n, count(DISTINCT span_id)::int AS distinct_ids FROM "${schema}".spans GROUP BY state`,
  );
  for (const row of rows) expect(row.distinct_ids).toBe(row.n);
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
}

describe('a recovery given back after K batches committed', () => {
  test.each([{ k: 5 }, { k: 17 }])('resumes after them (K = $k): the rerun exports only the rest, every span ends up once', async ({ k }) => {
    const { schema, exporter } = await freshExporter(`recovery_progress_k${k}`);
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, SPANS);

    const first = new CutAfter(exporter, k);
    const given = await recoverJournals({ journalDir, exporter: first, maxExportBatchSize: BATCH, maxAttempts: 2 });
    expect(given.journals).toBe(0);
    expect(given.failures).toHaveLength(1);
    expect(first.committed).toHaveLength(k * BATCH);
    // Given back under the writer's own name, with the progress beside its segments.
    expect(readdirSync(journalDir)).toEqual([basename(dead.writerDir)]);
    const progress = JSON.parse(readFileSync(join(dead.writerDir, RECOVERY_PROGRESS_FILE), 'utf8'));
    expect(progress).toMatchObject({ segment: expect.any(Number), offset: expect.any(Number) });
    expect(readdirSync(dead.writerDir).sort()).toEqual(['00000001.seg', RECOVERY_PROGRESS_FILE]);
    // The recovery's own writes are no sign of life of the writer: the directory's time is
    // now the last save, but the probe that judges a silent writer goes by the segments.
    const segmentTime = statSync(join(dead.writerDir, '00000001.seg')).mtimeMs;
    expect((await probeWriter(dead.writerDir)).lastModifiedMs).toBe(segmentTime);

    const second = new CutAfter(exporter);
    const resumed = await recoverJournals({ journalDir, exporter: second, maxExportBatchSize: BATCH });
    expect(resumed).toMatchObject({ journals: 1, failures: [] });
    // Exactly the ENDs the first run did not commit; crash records are sent again (upserts).
    expect(resumed.spansEnded).toBe(dead.ended - first.ended());
    expect(resumed.spansCrashed).toBe(dead.open);
    expect(second.committed.length).toBeLessThan(dead.ended + dead.open);
    expect(second.committed.length).toBeGreaterThanOrEqual(dead.ended + dead.open - first.committed.length);
    expect(await rowsByState(schema)).toEqual({ ended: dead.ended, crashed: dead.open });
    expect(readdirSync(journalDir)).toEqual([]);
  });
});

describe('batches that commit out of order', () => {
  test('a failed batch holds the position before it, though later batches committed: the rerun exports them again, nothing is skipped', async () => {
    const { schema, exporter } = await freshExporter('recovery_progress_out_of_order');
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, SPANS);
    const first = new FailsThirdAfterLaterCommits(exporter);
    // Batches in flight together, as behind PostgresSpanExporter: this wrapper of it is not one of ours.
    const given = await recoverJournals({ journalDir, exporter: first, maxExportBatchSize: BATCH, maxAttempts: 1, maxConcurrentExports: 4 });
    expect(given.failures).toHaveLength(1);
    expect([...first.committedByCall.keys()].sort()).toEqual([1, 2, 4, 5]);

    const second = new CutAfter(exporter);
    const resumed = await recoverJournals({ journalDir, exporter: second, maxExportBatchSize: BATCH });
    expect(resumed).toMatchObject({ journals: 1, spansCrashed: dead.open, failures: [] });
    // Resumed after batch 2: batches 4 and 5 are exported again (upserts), batch 3 at last.
    expect(resumed.spansEnded).toBe(dead.ended - first.endedIn(1, 2));
    expect(await rowsByState(schema)).toEqual({ ended: dead.ended, crashed: dead.open });
    expect(readdirSync(journalDir)).toEqual([]);
  });
});

describe('a progress file that cannot be used', () => {
  test.each([
    { garbage: 'torn JSON', contents: '{"v":1,"segment":1,"off' },
    { garbage: 'binary', contents: Buffer.from([0, 0, 0, 0, 0xff, 0xfe, 7]) },
    { garbage: 'a position past the journal', contents: '{"v":1,"segment":99,"offset":10}\n' },
    { garbage: 'an unknown version', contents: '{"v":7,"segment":1,"offset":10}\n' },
  ])('is ignored and reported once ($garbage): everything is recovered', async ({ garbage, contents }) => {
    const { schema, exporter } = await freshExporter(`recovery_progress_${garbage}`);
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 500);
    writeFileSync(join(dead.writerDir, RECOVERY_PROGRESS_FILE), contents);
    const lines = collectDiag();
    const counting = new CutAfter(exporter);
    const report = await recoverJournals({ journalDir, exporter: counting, maxExportBatchSize: BATCH });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
    expect(await rowsByState(schema)).toEqual({ ended: dead.ended, crashed: dead.open });
    const warnings = lines.filter((line) => line.includes(RECOVERY_PROGRESS_FILE));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ignored/);
    expect(lines).toHaveLength(1);
    expect(readdirSync(journalDir)).toEqual([]);
  });
});

describe('a recovering process killed mid-run', () => {
  test('SIGKILL after some batches committed: the next recovery takes the claim over, resumes, and every span is stored once', async () => {
    const { schema, exporter } = await freshExporter('recovery_progress_sigkill');
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, SPANS);
    // Commits 6 batches, then waits forever on a database that stopped answering.
    const child = runFixture(join(import.meta.dirname, '../fixtures/recoverThenHang.mjs'), {
      JOURNAL_DIR: journalDir,
      SCHEMA: schema,
      DATABASE_URL: db.url,
      BATCH_SIZE: String(BATCH),
      COMMITTED_BATCHES: '6',
    });
    const progressFile = (): string | undefined => {
      const claimed = readdirSync(journalDir).find((name) => name.includes('.recovering-'));
      return claimed === undefined ? undefined : join(journalDir, claimed, RECOVERY_PROGRESS_FILE);
    };
    await vi.waitFor(() => expect(statSync(progressFile() ?? '/nonexistent').isFile()).toBe(true), { timeout: 30_000, interval: 50 });
    child.child.kill('SIGKILL');
    const exit = await child.exited;
    expect(exit.signal, exit.stderr).toBe('SIGKILL');
    const committedBefore = await rowsByState(schema);
    expect(committedBefore.ended).toBeGreaterThan(0);

    const second = new CutAfter(exporter);
    const resumed = await recoverJournals({ journalDir, exporter: second, maxExportBatchSize: BATCH });
    expect(resumed).toMatchObject({ journals: 1, spansCrashed: dead.open, failures: [] });
    expect(resumed.spansEnded).toBeLessThan(dead.ended);
    expect(resumed.spansEnded).toBeGreaterThanOrEqual(dead.ended - committedBefore.ended);
    expect(await rowsByState(schema)).toEqual({ ended: dead.ended, crashed: dead.open });
    expect(readdirSync(journalDir)).toEqual([]);
  });
});
