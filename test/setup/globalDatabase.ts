// Every test talks to a real PostgreSQL: DATABASE_URL when it is set, otherwise an
// embedded server started here for the run and stopped after it.
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../scripts/embeddedPostgres.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.DATABASE_URL;
  if (fromEnv) {
    project.provide('databaseUrl', fromEnv);
    return async () => {};
  }
  const server = await startEmbeddedPostgres('test');
  process.stderr.write(`[test setup] DATABASE_URL not set: embedded PostgreSQL on port ${server.port}\n`);
  project.provide('databaseUrl', server.url);
  return server.stop;
}
