// A span record whose checksum holds but whose JSON does not parse is a writer's bug, not
// damage: recovery parses span records only when its exporter asks for the spans, and
// such a record is then left out of the batch and out of the report's counts; every other
// span of the journal is recovered. Checked on a real journal and real rows.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { diag } from '@opentelemetry/api';
import { expect, test } from 'vitest';
import { encodeFrame, frameChecksum } from '../../src/journal/frame.js';
import { segmentPath } from '../../src/journal/journalPaths.js';
import { readSegment } from '../../src/journal/readSegment.js';
import { RecordType } from '../../src/journal/recordTypes.js';
import { PostgresSpanExporter, recoverJournals } from '../../src/index.js';
import { TestDatabase, useMigratedSchema } from '../helpers/database.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { collectDiag } from '../helpers/diagLines.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();
const db = new TestDatabase();
let schema: string;
useMigratedSchema(db, 'recovery_unreadable', (name) => (schema = name));

/** Replaces the last byte of the `index`th record of `type` and makes its checksum hold again. */
function breakJson(path: string, type: RecordType, index: number): void {
  const bytes = readFileSync(path);
  const record = readSegment(bytes).records.filter((r) => r.type === type)[index];
  bytes[record.end - 1] = 'x'.charCodeAt(0);
  bytes.writeUInt32LE(frameChecksum(bytes, record.offset + 8, record.end - record.offset - 9), record.offset + 4);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, record.offset, record.end - record.offset, record.offset);
  } finally {
    closeSync(fd);
  }
}

/** Writes `frame` just past the last record of the segment at `path`. */
function appendFrame(path: string, frame: Buffer): void {
  const end = readSegment(readFileSync(path)).records.at(-1)!.end;
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, frame, 0, frame.length, end);
  } finally {
    closeSync(fd);
  }
}

test('an END and an open START that do not parse are left out and not counted; the rest is recovered', async () => {
  const journalDir = join(tempDir(), 'journal');
  // One batch of 600, parsed in slices of 256 (recoverJournals.ts): the counts add up across them.
  const dead = writeDeadJournal(journalDir, 600); // every tenth span stays open
  const segment = segmentPath(dead.writerDir, 1);
  breakJson(segment, RecordType.SpanEnd, 3);
  breakJson(segment, RecordType.SpanStart, 500); // span 500: open, in the second slice
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended - 1, spansCrashed: dead.open - 1, failures: [] });
    expect(lines.join('\n')).toMatch(/2 span records in .* could not be read \(their checksum held, but their JSON does not parse/);
  } finally {
    diag.disable();
    await exporter.shutdown();
  }
  const states = await db.pool.query(`SELECT state, count(*)::int AS n FROM "${schema}".spans GROUP BY state ORDER BY state`);
  expect(states.rows).toEqual([
    { state: 'crashed', n: dead.open - 1 },
    { state: 'ended', n: dead.ended - 1 },
  ]);
});

test("span records of the wrong shape (their checksum holds, their JSON parses) are left out and said, not made spans; the rest is recovered", async () => {
  // A review's fuzzing: such records went on as spans (a trace id a number, a start time
  // "yesterday"), stored as junk rows, and an OTLP exporter threw on them at every attempt.
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 300);
  const segment = segmentPath(dead.writerDir, 1);
  const records = readSegment(readFileSync(segment)).records;
  const anEnd = records.find((r) => r.type === RecordType.SpanEnd)!.payload as Record<string, unknown>;
  const aStart = records.find((r) => r.type === RecordType.SpanStart)!.payload as Record<string, unknown>;
  const wrong: [RecordType, Record<string, unknown>][] = [
    [RecordType.SpanEnd, { t: 12345 }],
    [RecordType.SpanEnd, { t: undefined }],
    [RecordType.SpanEnd, { n: { a: 1 } }],
    [RecordType.SpanEnd, { st: [1, 'x'] }],
    [RecordType.SpanEnd, { et: 'yesterday' }],
    [RecordType.SpanEnd, { ev: [{ n: 'no time' }] }],
    [RecordType.SpanEnd, { sx: 'ok' }],
    [RecordType.SpanEnd, { a: 'attributes as text' }],
    [RecordType.SpanEnd, { l: [{ t: 1 }] }],
    [RecordType.SpanStart, { st: 'yesterday' }],
  ];
  for (const [i, [type, change]] of wrong.entries()) {
    const base = type === RecordType.SpanEnd ? anEnd : aStart;
    appendFrame(segment, encodeFrame(type, JSON.stringify({ ...base, s: `ffffffffffff${String(i).padStart(4, '0')}`, ...change })));
  }
  // What an application may give the SDK, which the live export sends on, recovery does
  // not drop: a kind that is no number, an end given as an invalid Date (NaN: null in JSON).
  const odd = [{ k: 'server' }, { et: [null, null] }];
  for (const [i, change] of odd.entries()) appendFrame(segment, encodeFrame(RecordType.SpanEnd, JSON.stringify({ ...anEnd, s: `eeeeeeeeeeee${String(i).padStart(4, '0')}`, ...change })));
  const exporter = new CollectingExporter();
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended + odd.length, spansCrashed: dead.open, failures: [] });
    expect(lines.join('\n')).toMatch(new RegExp(`${wrong.length} span records in .* could not be read`));
  } finally {
    diag.disable();
  }
  expect(exporter.spans).toHaveLength(dead.ended + odd.length + dead.open);
  expect(exporter.spans.filter((span) => span.spanContext().spanId?.startsWith?.('ffffffffffff'))).toEqual([]);
});

test('a segment the disk cannot give back is counted as damage; every other segment is recovered', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 300);
  // A later "segment" is no regular file (a directory: ENOTREG, as EIO would be from a bad sector).
  mkdirSync(segmentPath(dead.writerDir, 7));
  const count = async (): Promise<number> => (await db.pool.query(`SELECT count(*)::int AS n FROM "${schema}".spans`)).rows[0].n;
  const before = await count();
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
    expect(lines.join('\n')).toMatch(/segment .*00000007\.seg cannot be read past byte 0 \(ENOTREG\)/);
  } finally {
    diag.disable();
    await exporter.shutdown();
  }
  expect(existsSync(dead.writerDir)).toBe(false);
  expect((await count()) - before).toBe(dead.ended + dead.open);
});

test('a log record written without the fields a reader expects is lost alone, said, and does not keep the journal from being recovered', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 100);
  // A LOG cut down to its first fields (recordCap.ts, for a key alone larger than a frame): no scope, no resource.
  const path = segmentPath(dead.writerDir, 1);
  const frame = encodeFrame(RecordType.LogRecord, JSON.stringify({ q: 0, t: [1, 0], o: [1, 0], a: {} }));
  appendFrame(path, frame);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
  } finally {
    await exporter.shutdown();
  }
  expect(existsSync(dead.writerDir)).toBe(false);
});

test('a log record that does not parse is said, with where it was, and the rest is recovered', async () => {
  // Before: passed over without a word, while an unparseable span record was reported.
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 20, { logs: 5 });
  breakJson(segmentPath(dead.writerDir, 1), RecordType.LogRecord, 2);
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, logRecords: dead.logs - 1, failures: [] });
    expect(lines.join('\n')).toMatch(/a log record in .* could not be read \(its checksum held but its JSON does not parse\); it is lost/);
  } finally {
    diag.disable();
    await exporter.shutdown();
  }
});

test('damaged records are said when recovery skips them, not only counted', async () => {
  // Before: added to report.corruptBytes only; inside an application, whose line counts
  // spans, the loss was invisible.
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 20);
  const path = segmentPath(dead.writerDir, 1);
  const bytes = readFileSync(path);
  const end = readSegment(bytes).records.filter((r) => r.type === RecordType.SpanEnd)[2]!;
  bytes[end.end - 3] ^= 0x20; // checksum no longer holds
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, end.offset, end.end - end.offset, end.offset);
  } finally {
    closeSync(fd);
  }
  const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report.corruptBytes).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(new RegExp(`${report.corruptBytes} bytes of damaged records in .* were skipped`));
  } finally {
    diag.disable();
    await exporter.shutdown();
  }
});

test.each([
  ['a heartbeat of null', RecordType.Heartbeat, 'null'],
  ['a heartbeat whose time is text', RecordType.Heartbeat, '{"ms":"soon"}'],
  ['a resource whose bytes paths are not a list', RecordType.Resource, '{"id":9,"a":{},"ab":5}'],
  ['a commit without a position', RecordType.Commit, '{"ms":1}'],
])('%s (its checksum holding) is damage, said, and the rest of the journal is recovered', async (_, type, json) => {
  // Before: reading the facts threw, and the whole journal failed again at every scan.
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 20, { rawRecords: [[type, json]] });
  const lines = collectDiag();
  try {
    const exporter = new CollectingExporter();
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
    expect(report.corruptBytes).toBe(json.length + 9);
    expect(lines.join('\n')).toMatch(/bytes of damaged records in .* were skipped/);
  } finally {
    diag.disable();
  }
});

test('an exit record whose error holds no strings still gives its crash records a reason', async () => {
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 20, { rawRecords: [[RecordType.ProcessExit, '{"ms":1,"error":{"name":7,"message":{"a":1},"stack":5}}']] });
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 1, spansCrashed: dead.open, failures: [] });
  const crashed = exporter.spans.filter((span) => span.status.code === 2);
  expect(crashed[0]!.status.message).toMatch(/^uncaught 7: {"a":1}/);
});

test.each([['a string', 'abc'], ['a fraction', 1.5], ['past 2^53', 2 ** 70], ['none', undefined]])(
  'a log record whose sequence is %s is said and left out; the rest of its journal is recovered',
  async (_label, q) => {
    // Before: bound as a bigint, it failed the whole batch at every attempt (an attack):
    // none of the journal was stored, and inside an application no later journal was reached.
    const journalDir = join(tempDir(), 'journal');
    const dead = writeDeadJournal(journalDir, 60, { logs: 3 });
    const path = segmentPath(dead.writerDir, 1);
    const frame = encodeFrame(RecordType.LogRecord, JSON.stringify({ q, t: [1, 0], o: [1, 0], a: {}, b: 'odd sequence' }));
    appendFrame(path, frame);
    const exporter = new PostgresSpanExporter({ connectionString: db.url, schema });
    const lines = collectDiag();
    try {
      const report = await recoverJournals({ journalDir, exporter, maxAttempts: 2 });
      expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, logRecords: dead.logs, failures: [] });
      expect(lines.join('\n')).toMatch(/a log record in .* could not be read \(its sequence .* is not a whole number\); it is lost/);
    } finally {
      diag.disable();
      await exporter.shutdown();
    }
    expect(await db.count(`SELECT count(*) FROM "${schema}".logs WHERE body #>> '{}' = 'odd sequence'`)).toBe(0);
    expect(existsSync(dead.writerDir)).toBe(false);
  },
);

test.each([
  ['a segment that does not exist', { segment: 999, offset: 0 }],
  ['an offset past its segment', { segment: 1, offset: 2 ** 52 }],
])('a commit record that names a place past itself (%s) is damage, said; every END after it is recovered', async (_label, upTo) => {
  // Before: taken as the watermark, it passed every uncommitted END and log record over,
  // with nothing said and nothing counted (an attack: a segment spliced in from another journal does the same).
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 60, { logs: 3 });
  const path = segmentPath(dead.writerDir, 1);
  const frame = encodeFrame(RecordType.Commit, JSON.stringify({ ms: Date.now(), ...upTo }));
  appendFrame(path, frame);
  const exporter = new CollectingExporter();
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
    expect(report.corruptBytes).toBe(frame.length);
    expect(lines.join('\n')).toMatch(/damaged/);
  } finally {
    diag.disable();
  }
  expect(exporter.spans).toHaveLength(dead.ended + dead.open);
});

test('a segment cut short with records after it is damage, said; a torn tail with nothing after it is a crash, as before', async () => {
  // Before: the cut was counted as a crash's torn tail, and what it held was lost unsaid
  // (an attack cut 200 KB from a segment: 231 spans lost, nothing said).
  const journalDir = join(tempDir(), 'journal');
  const dead = writeDeadJournal(journalDir, 400, { maxSegmentBytes: 16 * 1024, padding: 100 });
  const first = segmentPath(dead.writerDir, 1);
  const records = readSegment(readFileSync(first)).records;
  expect(existsSync(segmentPath(dead.writerDir, 3))).toBe(true);
  // Cut in the middle of a frame halfway through segment 1.
  const middle = records[Math.floor(records.length / 2)]!;
  truncateSync(first, middle.offset + 10);
  const exporter = new CollectingExporter();
  const lines = collectDiag();
  try {
    const report = await recoverJournals({ journalDir, exporter });
    expect(report.failures).toEqual([]);
    expect(report.corruptBytes).toBe(10);
    expect(report.tornBytes).toBe(0);
    expect(lines.join('\n')).toMatch(/10 bytes of damaged records in .* were skipped/);
  } finally {
    diag.disable();
  }
});
