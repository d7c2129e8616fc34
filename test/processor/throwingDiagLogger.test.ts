// The diag logger is the application's, and may throw. Nothing we say may make a span call
// throw into the application, reject an export's promise (unhandled, that ends the
// process) or stop the export loop; nor may an exporter's forceFlush that throws
// synchronously make forceFlush() reject. A real child process: an unhandled rejection
// or an uncaught exception would end it with an error.
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const fixture = join(import.meta.dirname, '../fixtures/throwingDiagService.mjs');

test('a diag logger that throws at every message changes nothing for the application', async () => {
  const child = runFixture(fixture, { JOURNAL_DIR: join(tempDir(), 'journal') });
  const ready = (await child.ready) as unknown as { outcome: Record<string, string>; exports: number; exported: number; said: number };
  const exit = await child.exited;
  expect(exit.stderr).toBe('');
  expect(exit.code).toBe(0);
  expect(ready.outcome).toEqual({ onStart: 'ok', onEnd: 'ok', spans: 'ok', forceFlush: 'ok', shutdown: 'ok' });
  // The failed first export was retried, and every span was committed.
  expect(ready.exports).toBeGreaterThanOrEqual(2);
  expect(ready.exported).toBe(10);
  // We did speak: the logger was called, and threw, every time.
  expect(ready.said).toBeGreaterThan(0);
});
