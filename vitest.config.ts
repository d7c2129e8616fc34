import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/globalDatabase.ts'],
    // Crash tests spawn real child processes and wait for real PostgreSQL commits.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // expect.poll waits on background work (a browser's DOM, thread-pool jobs, retries with
    // backoff): its 1 s default is too short on a loaded CI machine.
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-results.json' },
  },
});
