// What the processor and the exporter say while they are built (an environment variable
// ignored, the journal's write path) is said once the application's turn is done: built as
// NodeSDK's arguments, they spoke before NodeSDK installed the logger OTEL_LOG_LEVEL asks
// for, and none of it reached anyone (a review: `OTEL_BSP_SCHEDULE_DELAY=100ms` went unsaid).
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { databaseUrl } from '../helpers/database.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

test('under NodeSDK with OTEL_LOG_LEVEL, the warnings of construction reach its logger', async () => {
  const child = runFixture(join(import.meta.dirname, '../fixtures/nodeSdkEnvWarnings.mjs'), {
    DATABASE_URL: databaseUrl(),
    SCHEMA: 'env_warnings',
    JOURNAL_DIR: join(tempDir(), 'journal'),
    OTEL_LOG_LEVEL: 'warn',
    OTEL_BSP_SCHEDULE_DELAY: '100ms',
    OTEL_BLACKBOX_JOURNAL_IO: 'sometimes',
  });
  await child.ready;
  const { code, stderr } = await child.exited;
  expect(code).toBe(0);
  expect(stderr).toContain('ignoring OTEL_BSP_SCHEDULE_DELAY');
  expect(stderr).toContain('ignoring OTEL_BLACKBOX_JOURNAL_IO');
});
