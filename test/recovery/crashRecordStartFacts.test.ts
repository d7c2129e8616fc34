// A crash record is made from the span's START: everything startSpan was given must be in
// it. The links given to startSpan (samplers see them) and what the span limits dropped at
// the start (attributes past attributeCountLimit, links past linkCountLimit) were written
// only with the END: a crash record had no links and said nothing was dropped, where the
// same span's ended row had them (found by a data-fidelity review). Whether the parent was
// remote and the schema URLs are start facts too.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runFixture } from '../helpers/childProcess.js';
import { killed, recoverInto } from '../helpers/crashAssertions.js';
import { TestDatabase } from '../helpers/database.js';
import { JOURNAL_IO_PATHS, useJournalIo } from '../helpers/journalIo.js';
import { useTempDirs } from '../helpers/tempDir.js';

const fixture = join(import.meta.dirname, '../fixtures/startFactsService.mjs');
const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;

beforeAll(async () => {
  schema = await db.freshSchema('crash_record_start_facts');
});
afterAll(async () => {
  await db.close();
});

describe.each(JOURNAL_IO_PATHS)('a crash record of a span started with links, past the span limits (%s)', (io) => {
  useJournalIo(io);

  test('has the links it was started with and the counts the limits dropped, as its ended sibling', async () => {
    const journalDir = join(tempDir(), 'journal');
    const child = runFixture(fixture, { JOURNAL_DIR: journalDir });
    const ids = await child.ready;
    await killed(child);
    // The child's exporter never answers, and names no destination.
    const report = await recoverInto(db, schema, journalDir, true);
    expect(report).toMatchObject({ journals: 1, spansCrashed: 1, failures: [] });

    const { rows } = await db.pool.query(
      `SELECT span_id, state, attributes, links, dropped_attributes_count AS da, dropped_links_count AS dl,
              parent_is_remote, resource_schema_url, scope_schema_url
         FROM "${schema}".spans WHERE span_id = ANY($1) ORDER BY state`,
      [[ids.open, ids.ended]],
    );
    expect(rows.map((row) => [row.span_id, row.state])).toEqual([
      [ids.open, 'crashed'],
      [ids.ended, 'ended'],
    ]);
    for (const row of rows) {
      expect(Object.keys(row.attributes).filter((key) => /^a\d$/.test(key))).toHaveLength(3);
      expect(row.da).toBe(2);
      expect(row.dl).toBe(1);
      expect(row.links).toHaveLength(2);
    }
    // The crashed span's parent came with a request (remote); the ended one's is the crashed span.
    expect(rows.map((row) => row.parent_is_remote)).toEqual([true, false]);
    for (const row of rows) {
      expect([row.resource_schema_url, row.scope_schema_url]).toEqual(['https://opentelemetry.io/schemas/1.26.0', 'https://opentelemetry.io/schemas/1.27.0']);
    }
    // The two the SDK kept (which two is its choice), with their attributes, on both rows.
    expect(rows[0].links).toEqual(rows[1].links);
    expect(rows[0].links.map((link: { attributes: object }) => link.attributes)).toContainEqual({ 'messaging.batch.index': 2 });
    // Whether each link's context was remote, and its flags, as the application gave them.
    for (const link of rows[0].links) {
      const remote = link.attributes['messaging.batch.index'] === 2;
      expect([link.is_remote, link.trace_flags]).toEqual(remote ? [true, 0] : [false, 1]);
    }
  });
});
