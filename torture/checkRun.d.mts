// Types of checkRun.mjs for the TypeScript test of the checker (test/torture/checkRun.test.ts).
import type pg from 'pg';
import type { RunStats } from './runTorture.mjs';

export function checkRun(options: {
  pool: pg.Pool;
  schema: string;
  ledgerPath: string;
  service: string;
  mode: string;
}): Promise<{ stats: RunStats; findings: string[] }>;
