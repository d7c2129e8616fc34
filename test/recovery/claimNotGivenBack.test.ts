// A recovery that fails (the database away) gives its claim back: the journal's directory is
// renamed back to the dead writer's name, for the next scan. When that rename failed too,
// the directory stayed under this recoverer's claim, and every later scan by the same
// recoverer judged the claimer, itself, alive: the journal waited for the process to end.
// The recoverer now takes up its own leftover claim at its next scan.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { currentWriterIdentity } from '../../src/journal/writerIdentity.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

test('a claim that could not be given back is taken up again by the same recoverer at its next scan', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 40, { openEvery: 10 });
  const deadName = join(journalDir, basename(dead.writerDir));
  const claimer = currentWriterIdentity();
  // The database is away; while the recovery fails, something takes the dead writer's name
  // (a directory with a file in it), so the rename that gives the claim back fails.
  const away: SpanExporter = {
    export(_spans: ReadableSpan[], done: (result: ExportResult) => void): void {
      if (!existsSync(deadName)) {
        mkdirSync(deadName);
        writeFileSync(join(deadName, 'in-the-way'), '');
      }
      done({ code: ExportResultCode.FAILED, error: new Error('database away (test)') });
    },
    shutdown: async () => {},
  };
  const failed = await recoverJournals({ journalDir, exporter: away, claimer, maxAttempts: 1 });
  expect(failed.failures).toHaveLength(1);
  rmSync(deadName, { recursive: true });

  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter, claimer });
  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, liveJournals: 0 });
  expect(exporter.spans).toHaveLength(dead.ended + dead.open);
});
