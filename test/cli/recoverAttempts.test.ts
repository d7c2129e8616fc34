// `recover --attempts N`: how often each batch is tried before the journal is given back.
// Five tries take about a second, and under ExecStopPost= the database may be restarting
// at that moment: the run failed (exit 1) with no way to wait longer (a review). Here the
// database's port answers nothing for the first seconds, then reaches the real server.
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { migrateSchema } from '../../src/postgres/migrate.js';
import { runCli } from '../helpers/cli.js';
import { TestDatabase } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('recover_attempts');
  await migrateSchema(db.pool, schema);
});
afterAll(() => db.close());

/** A port nothing listens on yet. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** From now on, `port` forwards every connection to the test database's server. */
async function forwardTo(port: number, target: URL): Promise<{ close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.push(client, upstream);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  }).listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('recover --attempts 40 waits for a database that comes up a few seconds late, and recovers the journal', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 12, { openEvery: 4 });
  const port = await freePort();
  const url = new URL(db.url);
  url.host = `127.0.0.1:${port}`;
  const recovering = runCli({ DATABASE_URL: url.href }, 'recover', '--journal-dir', journalDir, '--schema', schema, '--attempts', '40', '--recover-any-destination');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const forward = await forwardTo(port, new URL(db.url));
  try {
    const run = await recovering;
    expect(run.stderr).toMatch(/could not export a batch; it tries again/);
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: expect.stringContaining(`recovered 1 journals`) });
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'crashed'`)).toBe(dead.open);
    expect(await db.count(`SELECT count(*) FROM "${schema}".spans WHERE state = 'ended'`)).toBe(dead.ended);
  } finally {
    await forward.close();
  }
});

test('recover --attempts takes a positive integer', async () => {
  for (const value of ['0', '-1', 'many', '1.5']) {
    const run = await runCli({ DATABASE_URL: db.url }, 'recover', '--journal-dir', tempDir(), '--attempts', value);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--attempts');
  }
});
