// `otel-blackbox ui` against a schema without the indexes its lists read by (migrations 9
// to 11: a role that may not migrate, a migration that failed, an index dropped or left
// invalid by a concurrent build): it serves as before, and says at start which lists read
// the whole table without them and how to add them. It said nothing: a page of crashes at
// 100,000 crash records took 50 ms against 0.1, with no word of why.
import { afterAll, describe, expect, test } from 'vitest';
import { migrateSchema, MigrationsIncompleteError } from '../../src/postgres/migrate.js';
import { TestDatabase } from '../helpers/database.js';
import { installMigrations } from '../helpers/installedMigrations.js';
import { startViewer } from './viewerFixture.js';

const db = new TestDatabase();
afterAll(() => db.close());

/** What the viewer said on stderr by the time it listened, and whether its pages answer. */
async function startupNotes(schema: string): Promise<string> {
  const viewer = await startViewer(['--database', db.url, '--schema', schema]);
  try {
    for (const path of ['/api/traces?status=error', '/api/crashes', '/api/logs']) expect((await fetch(new URL(path, viewer.url))).status).toBe(200);
    return viewer.err.join('\n');
  } finally {
    expect(await viewer.stop()).toBe(0);
  }
}

describe("the viewer's start-up note on missing indexes", () => {
  test('a schema with every migration: no note', async () => {
    const schema = await db.freshSchema('viewer_indexes_all');
    await migrateSchema(db.pool, schema);
    expect(await startupNotes(schema)).not.toMatch(/index/);
  });

  test('a schema at migration 8: the three indexes named, with the lists they serve and how to add them', async () => {
    const schema = await db.freshSchema('viewer_indexes_v8');
    await installMigrations(db, schema, (version) => version <= 8);
    const notes = await startupNotes(schema);
    expect(notes).toMatch(/spans_error_idx \(migration 9: traces with an ERROR span\)/);
    expect(notes).toMatch(/logs_outside_spans_idx \(migration 10: log lines outside spans\)/);
    expect(notes).toMatch(/spans_crashes_by_end_idx \(migration 11: crashes\)/);
    expect(notes).toMatch(/otel-blackbox migrate/);
    expect(notes).toMatch(/CONCURRENTLY/);
  });

  test('one index dropped, another invalid (a concurrent build that failed): both named, the valid one not', async () => {
    const schema = await db.freshSchema('viewer_indexes_broken');
    await migrateSchema(db.pool, schema);
    await db.query(`DROP INDEX "${schema}".spans_error_idx`);
    // An invalid index of the name: a unique build that fails on duplicate rows leaves one.
    await db.query(`DROP INDEX "${schema}".spans_crashes_by_end_idx`);
    await db.query(`CREATE TABLE "${schema}".dupes (n int)`);
    await db.query(`INSERT INTO "${schema}".dupes VALUES (1), (1)`);
    await expect(db.query(`CREATE UNIQUE INDEX CONCURRENTLY spans_crashes_by_end_idx ON "${schema}".dupes (n)`)).rejects.toThrow(/duplicate|could not create unique index/);
    expect(await db.count(`SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass($1) AND NOT indisvalid`, [`"${schema}".spans_crashes_by_end_idx`])).toBe(1);
    const notes = await startupNotes(schema);
    expect(notes).toMatch(/spans_error_idx/);
    expect(notes).toMatch(/spans_crashes_by_end_idx \(migration 11: crashes\), invalid/);
    expect(notes).not.toMatch(/logs_outside_spans_idx/);
  });

  // An index of the name with another definition (a typo in one built by hand) was taken as
  // present, and its list read the whole table without a word. The migration now refuses to
  // record it (optionalMigrations.test.ts); the viewer, in a read-only transaction, cannot
  // compare definitions, but says which indexes no migration recorded.
  test('an index of the name that its migration did not record (another definition, refused): named, with why', async () => {
    const schema = await db.freshSchema('viewer_indexes_other');
    await installMigrations(db, schema, (version) => version <= 8);
    await db.query(`CREATE INDEX spans_error_idx ON "${schema}".spans (trace_id) WHERE status_code = 'OK'`);
    await expect(migrateSchema(db.pool, schema)).rejects.toBeInstanceOf(MigrationsIncompleteError);
    const notes = await startupNotes(schema);
    expect(notes).toMatch(/spans_error_idx \(migration 9: traces with an ERROR span\), not recorded by a migration \(one of another definition is refused\)/);
    expect(notes).not.toMatch(/logs_outside_spans_idx|spans_crashes_by_end_idx/);
  });
});
