// The viewer's database session is read-only, with a statement timeout and no JIT, whatever
// the database URL says: given as the pool's startup options, these were silently replaced
// by an `options` parameter in the URL (a review: `?options=-c search_path=public` gave a
// writable session with no timeout).
import { afterAll, describe, expect, test } from 'vitest';
import { viewerPool } from '../../src/cli/commands/uiCommand.js';
import { TestDatabase } from '../helpers/database.js';

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
  ])('is read-only, with a 15 s statement timeout and no JIT, from %s', async (_, url) => {
    const pool = viewerPool(url());
    try {
      const { rows } = await pool.query(
        `SELECT current_setting('default_transaction_read_only') AS read_only, current_setting('statement_timeout') AS timeout, current_setting('jit') AS jit`,
      );
      expect(rows[0]).toEqual({ read_only: 'on', timeout: '15s', jit: 'off' });
      await expect(pool.query('CREATE TABLE viewer_must_not_write (x int)')).rejects.toMatchObject({ code: '25006' });
    } finally {
      await pool.end();
    }
  });
});
