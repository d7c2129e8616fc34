// Types of runTorture.mjs for the TypeScript test that runs it (test/torture).

export declare const MODES: readonly ['sigkill', 'uncaught', 'abort', 'oom', 'shutdown'];
export type TortureMode = (typeof MODES)[number];

export interface RunStats {
  runs: number;
  /** Spans the ledgers say started (sampled ones). */
  started: number;
  ended: number;
  crashed: number;
  lost: number;
  duplicated: number;
  /** Spans without their trace row, span events without their span row. */
  orphans: number;
  /** Every other broken promise, each described in the run's findings. */
  problems: number;
  /** Ended in the ledger, a crash record in PostgreSQL: an END lost. Must be 0 in every mode (also counted in problems). */
  endedButCrashed: number;
  /** In PostgreSQL, not in the ledger: killed between startSpan() and the ledger line. */
  unledgered: number;
}

export interface TortureFailure {
  run: number;
  mode: string;
  seed: number | undefined;
  service: string | undefined;
  findings: string[];
  keptIn: string | undefined;
}

export interface TortureOptions {
  databaseUrl: string;
  schema: string;
  runs?: number;
  modes?: readonly string[] | Partial<Record<TortureMode, number>>;
  seed?: number;
  concurrency?: number;
  /** Share of runs whose journal is first recovered by a child SIGKILLed at a random moment. Default 0.2. */
  killedRecoveryShare?: number;
  /** Share of runs journaling with durability 'host' (group commit) rather than 'process'. Default 0.2. */
  hostDurabilityShare?: number;
  failuresDir?: string;
  log?: (line: string) => void;
}

export interface TortureResult {
  seed: number;
  byMode: Partial<Record<TortureMode, RunStats>>;
  total: RunStats;
  /** Runs whose journal was first recovered by a child killed at a random moment, and how many of those kills came before it finished. */
  killedRecoveries: { tried: number; killed: number };
  failures: TortureFailure[];
}

export declare function runTorture(options: TortureOptions): Promise<TortureResult>;
export declare function formatStats(label: string, stats: RunStats): string;
export declare function isFailure(stats: RunStats): boolean;
