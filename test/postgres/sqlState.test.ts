// Error classification, on errors produced by a real server and a real refused socket.
import pg from 'pg';
import { afterAll, describe, expect, it, test } from 'vitest';
import { exportError } from '../../src/postgres/PostgresExportError.js';
import { classifyError, isConnectionFailure, sqlStateOf, type ErrorKind } from '../../src/postgres/sqlState.js';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();

afterAll(async () => {
  await db.close();
});

async function raised(sqlState: string): Promise<unknown> {
  return db.query(`DO $$ BEGIN RAISE EXCEPTION 'raised for a test' USING ERRCODE = '${sqlState}'; END $$`).then(
    () => expect.unreachable('the statement should have failed'),
    (error: unknown) => error,
  );
}

describe('classifyError', () => {
  it.each<[string, ErrorKind]>([
    ['08006', 'transient'], // connection_failure
    ['57P01', 'transient'], // admin_shutdown
    ['57P03', 'transient'], // cannot_connect_now
    ['40001', 'transient'], // serialization_failure
    ['40P01', 'transient'], // deadlock_detected
    ['53300', 'transient'], // too_many_connections
    ['57014', 'transient'], // query_canceled
    ['25P03', 'transient'], // idle_in_transaction_session_timeout: the session was ended, a new one works
    ['57P05', 'transient'], // idle_session_timeout
    ['22021', 'record'], // character_not_in_repertoire
    ['22P02', 'record'], // invalid_text_representation
    ['23514', 'record'], // check_violation
    ['54000', 'record'], // program_limit_exceeded
    ['42P01', 'permanent'], // undefined_table
    ['42501', 'permanent'], // insufficient_privilege
    ['28P01', 'permanent'], // invalid_password
  ])('classifies SQLSTATE %s as %s', async (sqlState, kind) => {
    const error = await raised(sqlState);
    expect(sqlStateOf(error)).toBe(sqlState);
    expect(classifyError(error)).toBe(kind);
  });

  it('classifies a refused connection as transient', async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: 1 });
    const error = await client.connect().then(() => expect.unreachable(), (e: unknown) => e);
    expect(sqlStateOf(error)).toBeUndefined();
    expect(classifyError(error)).toBe('transient');
  });

  it('classifies a connection killed under an idle client as transient', async () => {
    const client = new pg.Client({ connectionString: db.url });
    // The server says why (57P01), then the socket closes: pg reports both.
    const events: unknown[] = [];
    const failed = new Promise((resolve) => client.once('error', resolve));
    const ended = new Promise((resolve) => client.once('end', resolve));
    client.on('error', (error) => events.push(error));
    await client.connect();
    const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    expect(classifyError(await failed)).toBe('transient');
    await ended;
    expect(events.map(classifyError)).toEqual(events.map(() => 'transient'));
    const error = await client.query('SELECT 1').then(() => expect.unreachable(), (e: unknown) => e);
    expect(sqlStateOf(error)).toBeUndefined();
    expect(classifyError(error)).toBe('transient');
  });

  it('takes no errno name for a SQLSTATE: EBADF, EROFS and EPERM are five capitals, and no SQLSTATE class starts with E', () => {
    for (const code of ['EBADF', 'EROFS', 'EPERM', 'EFBIG', 'EXDEV']) {
      expect(sqlStateOf(Object.assign(new Error(`write ${code}`), { code })), code).toBeUndefined();
    }
    expect(sqlStateOf(Object.assign(new Error('x'), { code: '23505' }))).toBe('23505');
  });

  it('classifies programming errors as permanent', () => {
    expect(classifyError(new TypeError('x is not a function'))).toBe('permanent');
    expect(classifyError(undefined)).toBe('permanent');
  });
});

test('a connection failure is one the database never saw the statement of: not a lock wait or a refusal', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  expect(isConnectionFailure(withCode('ECONNREFUSED'))).toBe(true);
  expect(isConnectionFailure(withCode('08006'))).toBe(true);
  expect(isConnectionFailure(withCode('57P01'))).toBe(true);
  // No slot for the role (a mass restart of its clients), a session ended for a timeout:
  // not the migration's fault, so they do not hold migrations back (SchemaRetry).
  expect(isConnectionFailure(withCode('53300'))).toBe(true);
  expect(isConnectionFailure(withCode('25P03'))).toBe(true);
  expect(isConnectionFailure(withCode('57P05'))).toBe(true);
  expect(isConnectionFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
  expect(isConnectionFailure(withCode('55P03'))).toBe(false);
  expect(isConnectionFailure(withCode('40001'))).toBe(false);
  expect(isConnectionFailure(withCode('42501'))).toBe(false);
});

test("PgBouncer's statement pooling is named with what to change, not 'the batch can be retried' (it never can)", () => {
  const cause = Object.assign(new Error('transaction blocks not allowed in statement pooling mode'), { code: '08P01' });
  const error = exportError({ action: 'write 2 spans to PostgreSQL at pgbouncer:6432/app', schema: 'otel', cause });
  expect(error.message).toMatch(/^PostgresSpanExporter could not write 2 spans .*: transaction blocks not allowed in statement pooling mode \(SQLSTATE 08P01\)\. Nothing was written\. A batch is one transaction, which PgBouncer's statement pooling cannot run: use transaction or session pooling/);
  expect(error.message).not.toContain('can be retried');
});
