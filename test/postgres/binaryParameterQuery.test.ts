// queryBinary writes the Bind message itself (to spare pg's growing writer): the bytes must
// be exactly what pg would have sent, and the statement must behave as client.query does
// on a real connection: rows stored, the server's errors with their SQLSTATE, a connection
// that stays usable after one, and no hang when the connection dies under it.
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { textArray, integerArray } from '../../src/postgres/binaryArray.js';
import { bindMessage, queryBinary } from '../../src/postgres/binaryParameterQuery.js';
import { ParameterArena } from '../../src/postgres/ParameterArena.js';
import { TestDatabase } from '../helpers/database.js';

const db = new TestDatabase();
const arena = new ParameterArena();
let table: string;

beforeAll(async () => {
  const schema = await db.freshSchema('binary_parameter_query');
  await db.query(`CREATE SCHEMA "${schema}"`);
  table = `"${schema}".items`;
  await db.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text)`);
});
afterAll(() => db.close());

const insert = () => `INSERT INTO ${table} (id, name) SELECT * FROM unnest($1::integer[], $2::text[])`;

test('the Bind message is byte for byte the one pg would send for the same binary parameters', () => {
  const values = [integerArray([1, 2, null], arena), textArray(['a', 'é', null], arena), Buffer.alloc(0), Buffer.alloc(70_000, 7)];
  const ours = Buffer.concat(bindMessage(values));
  expect(ours.equals(serialize.bind({ values }))).toBe(true);
  expect(Buffer.concat(bindMessage([])).equals(serialize.bind({ values: [] }))).toBe(true);
});

test('rows are stored, a refused statement rejects with its SQLSTATE, and the connection goes on working', async () => {
  const client = await db.pool.connect();
  try {
    await queryBinary(client, [{ text: insert(), values: [integerArray([1, 2, 3], arena), textArray(['one', 'two', 'drei ✓'], arena)] }]);
    const error = await queryBinary(client, [{ text: insert(), values: [integerArray([4, 1], arena), textArray(['four', 'again'], arena)] }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(pg.DatabaseError);
    expect((error as pg.DatabaseError).code).toBe('23505');
    // The failed statement stored nothing; the connection takes the next one.
    await queryBinary(client, [{ text: insert(), values: [integerArray([5], arena), textArray([null], arena)] }]);
    const { rows } = await client.query(`SELECT id, name FROM ${table} ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
      { id: 3, name: 'drei ✓' },
      { id: 5, name: null },
    ]);
  } finally {
    client.release();
  }
});

test('inside the caller\'s transaction they are undone with it', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    await queryBinary(client, [{ text: insert(), values: [integerArray([10], arena), textArray(['ten'], arena)] }]);
    await queryBinary(client, [{ text: insert(), values: [integerArray([11], arena), textArray(['eleven'], arena)] }]);
    expect((await client.query(`SELECT count(*)::int AS n FROM ${table} WHERE id >= 10`)).rows[0].n).toBe(2);
    await client.query('ROLLBACK');
    expect(await db.count(`SELECT count(*) FROM ${table} WHERE id >= 10`)).toBe(0);
  } finally {
    client.release();
  }
});

test('several statements go in one round trip and stand or fall together: the first error skips the rest', async () => {
  const client = await db.pool.connect();
  try {
    const row = (id: number, name: string) => ({ text: insert(), values: [integerArray([id], arena), textArray([name], arena)] });
    await queryBinary(client, [row(30, 'thirty'), row(31, 'thirty-one'), row(32, 'thirty-two')]);
    // The second statement is refused: the first is undone with it, the third never runs.
    const error = await queryBinary(client, [row(33, 'a'), row(30, 'again'), row(34, 'b')]).catch((e: unknown) => e);
    expect((error as pg.DatabaseError).code).toBe('23505');
    const { rows } = await client.query(`SELECT id FROM ${table} WHERE id >= 30 ORDER BY id`);
    expect(rows.map((r) => r.id)).toEqual([30, 31, 32]);
  } finally {
    client.release();
  }
});

test('a connection the server ends while the statement waits makes it reject instead of hanging', async () => {
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {});
  await client.connect();
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
    const waiting = queryBinary(client, [{ text: insert(), values: [integerArray([20], arena), textArray(['twenty'], arena)] }]).catch((e: unknown) => e);
    await db.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
    const error = await waiting;
    expect(error).toBeInstanceOf(Error);
    // Ended while it waited, never applied.
    await locker.query('ROLLBACK');
    expect(await db.count(`SELECT count(*) FROM ${table} WHERE id = 20`)).toBe(0);
    // A statement on a connection that is gone rejects at once.
    expect(await queryBinary(client, [{ text: insert(), values: [integerArray([21], arena), textArray(['x'], arena)] }]).catch((e: unknown) => e)).toBeInstanceOf(Error);
  } finally {
    await locker.end();
    await client.end().catch(() => {});
  }
});
