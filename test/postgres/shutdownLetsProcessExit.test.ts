// After shutdown, nothing of the exporter's keeps the process alive: a server that accepts
// connections and never answers left a connect pending, and the process lived on after the
// processor's shutdown had resolved, until connectionTimeoutMillis (60 s here).
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PostgresSpanExporter } from '../../src/index.js';
import { exportSpans, traceOf } from './spanFixtures.js';
import { runFixture } from '../helpers/childProcess.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, 'fixtures/shutdownAgainstSilentServer.mjs');
const badPortFixture = join(import.meta.dirname, 'fixtures/shutdownWithBadPort.mjs');
const tempDir = useTempDirs();

/** Accepts every connection and never writes a byte: a hung PostgreSQL. */
const silentServer = createServer((socket) => sockets.push(socket.on('error', () => {})));
const sockets: Socket[] = [];

beforeAll(async () => {
  silentServer.listen(0, '127.0.0.1');
  await once(silentServer, 'listening');
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silentServer.close(resolve));
});

it('the process exits soon after shutdown resolved, long before connectionTimeoutMillis', async () => {
  const port = (silentServer.address() as AddressInfo).port;
  const { child, exited } = runFixture(fixture, { SILENT_PORT: String(port), JOURNAL_DIR: tempDir() });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  try {
    const shutdownResolved = new Promise<void>((resolve) => child.stdout!.on('data', () => /SHUTDOWN \d+\n/.test(stdout) && resolve()));
    await Promise.race([shutdownResolved, exited.then(({ stderr }) => Promise.reject(new Error(`exited before shutdown resolved: ${stderr}`)))]);
    // The exporter's pending connect is given up 1 s after its shutdown began; 20 s is
    // slack for a loaded machine, and a third of the 60 s the process lived before.
    const outcome = await Promise.race([exited, new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), 20_000).unref())]);
    expect(outcome === 'alive' ? 'still alive 20 s after shutdown resolved' : { code: outcome.code, signal: outcome.signal }).toEqual({ code: 0, signal: null });
  } finally {
    child.kill('SIGKILL');
  }
});

it('a connect whose socket refused the port at once (PGPORT=99999) does not kill the process at shutdown', async () => {
  const { child, exited } = runFixture(badPortFixture, { PGPORT: '99999', JOURNAL_DIR: tempDir() });
  let stdout = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  const { code, signal, stderr } = await exited;
  expect({ code, signal, stdout, uncaught: stderr.match(/Unhandled 'error' event|^Error: .*/m)?.[0] }).toEqual({ code: 0, signal: null, stdout: 'SHUTDOWN\nALIVE\n', uncaught: undefined });
});

// The same silent server, met by a batch: the deadline's failure said the migration waited
// for a table another session held (a long reader), where no connection had been made.
it('a batch against a server that never answers fails at exportTimeoutMillis, naming the connection first', async () => {
  const port = (silentServer.address() as AddressInfo).port;
  const exporter = new PostgresSpanExporter({ connectionString: `postgres://postgres@127.0.0.1:${port}/silent`, connectionTimeoutMillis: 0, exportTimeoutMillis: 500 });
  try {
    const result = await exportSpans(exporter, await traceOf(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error?.message).toContain('not done within exportTimeoutMillis (500 ms): the migration waits for a connection the server has not completed (a server that does not answer)');
  } finally {
    await exporter.shutdown();
  }
});
