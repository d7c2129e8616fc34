// The viewer reads in read-only transactions, with a statement timeout, no JIT and ISO
// dates, whatever the database URL says: given as the pool's startup options, these were
// silently replaced by an `options` parameter in the URL (a review: `?options=-c
// search_path=public` gave a writable session with no timeout). Set for each transaction
// alone: set for the session, they stayed on the server connection PgBouncer's transaction
// pooling hands to the next client, and the application's writes failed (an attack).
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { viewerPool } from '../../src/cli/commands/uiCommand.js';
import { readOnlyQueries } from '../../src/ui/viewerDatabase.js';
import { TestDatabase } from '../helpers/database.js';
import { TcpProxy } from '../helpers/TcpProxy.mjs';

const db = new TestDatabase();
afterAll(async () => {
  await db.close();
});

function withOptions(options: string): string {
  const url = new URL(db.url);
  url.searchParams.set('options', options);
  return url.toString();
}

describe('the viewer session', () => {
  test.each([
    ['a plain URL', () => db.url],
    ['a URL with its own options', () => withOptions('-c search_path=public')],
    ['a URL that asks for a writable session', () => withOptions('-c default_transaction_read_only=off -c statement_timeout=0')],
  ])('is read-only, with a 15 s statement timeout, no JIT and ISO dates, from %s', async (_, url) => {
    const viewer = viewerPool(url());
    try {
      const { rows } = await viewer.query(
        `SELECT current_setting('transaction_read_only') AS read_only, current_setting('statement_timeout') AS timeout, current_setting('jit') AS jit, current_setting('DateStyle') AS date_style`,
      );
      expect(rows[0]).toEqual({ read_only: 'on', timeout: '15s', jit: 'off', date_style: 'ISO, YMD' });
      await expect(viewer.query('CREATE TABLE viewer_must_not_write (x int)')).rejects.toMatchObject({ code: '25006' });
      // The connection is still good for the next query.
      expect((await viewer.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await viewer.end();
    }
  });

  test('leaves nothing on the connection it used: the next client of that connection (behind PgBouncer) gets it as it was', async () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const settings = `SELECT current_setting('default_transaction_read_only') AS read_only, current_setting('statement_timeout') AS timeout, current_setting('jit') AS jit, current_setting('DateStyle') AS date_style, pg_backend_pid() AS pid`;
    try {
      const before = (await pool.query(settings)).rows[0];
      const viewer = readOnlyQueries(pool);
      await viewer.query('SELECT 1');
      await expect(viewer.query('SELECT 1/0')).rejects.toMatchObject({ code: '22012' });
      expect((await pool.query(settings)).rows[0]).toEqual(before);
    } finally {
      await pool.end();
    }
  });

  test("a server that stopped answering fails the request at the pool's query timeout, once: no ROLLBACK is sent to wait as long again", async () => {
    // Behind a connection that froze, a request waited for its query's timeout (20 s in the
    // viewer), then for a ROLLBACK's on the same dead connection: 40 s (a review).
    const proxy = await TcpProxy.create(db.url);
    await proxy.listen();
    const pool = new pg.Pool({ connectionString: proxy.urlFor(db.url), max: 1, query_timeout: 300 });
    pool.on('error', () => {});
    // What the viewer asks of each connection it is handed (node-postgres queues a query
    // behind one that timed out, so the proxy would never see the ROLLBACK).
    const asked: string[] = [];
    const recording = {
      connect: async () => {
        const client = await pool.connect();
        const query = client.query.bind(client) as (text: string) => Promise<unknown>;
        (client as unknown as { query: (text: string) => Promise<unknown> }).query = (text: string, ...rest: unknown[]) => {
          asked.push(text);
          return (query as (...args: unknown[]) => Promise<unknown>)(text, ...rest);
        };
        return client;
      },
    } as unknown as pg.Pool;
    try {
      const viewer = readOnlyQueries(recording);
      expect((await viewer.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      proxy.delayMillis = 60_000;
      asked.length = 0;
      await expect(viewer.query('SELECT 2')).rejects.toThrow(/timeout/i);
      expect(asked.filter((text) => text !== 'SELECT 2' && !text.startsWith('BEGIN'))).toEqual([]);
      // The frozen connection is not given back: the next request gets a fresh one.
      proxy.delayMillis = 0;
      proxy.cutAll();
      expect((await viewer.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    } finally {
      await pool.end();
      await proxy.refuse();
    }
  });
});
