// Times in records are the application's to choose: a log record (or a span) may carry any
// timestamp. The writer's last sign of life, which dates a crash record's end and its
// reason, must not come from one that lies in the future: a year-2099 log line made the
// crash records end in 2099, and one at 1e20 ms made every recovery of the journal fail
// ("Invalid time value"), so its crash records and logs never reached PostgreSQL.
import { readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { expect, test } from 'vitest';
import { recoverJournals } from '../../src/index.js';
import { CollectingExporter } from '../helpers/CollectingExporter.js';
import { writeDeadJournal } from '../helpers/deadJournal.js';
import { useTempDirs } from '../helpers/tempDir.js';

const tempDir = useTempDirs();

test.each([
  ['in 2099', Date.UTC(2099, 0, 1)],
  ['at 1e20 ms', 1e20],
])('a log record dated %s is no sign of life: the journal is recovered, its crash records end when the writer last lived', async (_, timestamp) => {
  const journalDir = join(tempDir(), 'journal');
  const before = Date.now();
  const dead = writeDeadJournal(journalDir, 20, { openEvery: 10, lastLogTimestamp: timestamp });
  const exporter = new CollectingExporter();

  const report = await recoverJournals({ journalDir, exporter });

  expect(report).toMatchObject({ journals: 1, spansEnded: dead.ended, spansCrashed: dead.open, failures: [] });
  expect(report.logRecords).toBe(dead.logs);
  const crashed = exporter.spans.filter((span) => span.status.code === 2);
  expect(crashed).toHaveLength(dead.open);
  for (const span of crashed) {
    expect(hrTimeToMilliseconds(span.endTime)).toBeGreaterThanOrEqual(before - 1000);
    expect(hrTimeToMilliseconds(span.endTime)).toBeLessThanOrEqual(Date.now());
    expect(span.status.message).toMatch(/^process vanished; last heartbeat at 20\d\d-/);
  }
});

// The crash record ends when recovery ran, the latest its end can be; its reason said the
// writer's last heartbeat was then too, a heartbeat that never happened (an attack). It says
// when the heartbeat was dated, and that the writer's clock was ahead.
test('a heartbeat from a clock that was a year ahead dates no crash record in the future, and the reason says the clock was ahead', async () => {
  const journalDir = join(tempDir(), 'journal');
  const heartbeatAtMs = Date.now() + 365 * 86_400_000;
  const dead = writeDeadJournal(journalDir, 20, { openEvery: 10, heartbeatAtMs });
  const exporter = new CollectingExporter();
  const report = await recoverJournals({ journalDir, exporter });
  expect(report).toMatchObject({ journals: 1, spansCrashed: dead.open, failures: [] });
  const crashed = exporter.spans.filter((span) => span.status.code === 2);
  expect(crashed).toHaveLength(dead.open);
  for (const span of crashed) {
    expect(hrTimeToMilliseconds(span.endTime)).toBeLessThanOrEqual(Date.now());
    const [, dated, hostNow] = /^process vanished; last heartbeat at (\S+) by its clock, which was ahead of this host's \((\S+) when recovered\)$/.exec(span.status.message!) ?? [];
    expect(Date.parse(dated!)).toBe(heartbeatAtMs);
    expect(Date.parse(hostNow!)).toBe(hrTimeToMilliseconds(span.endTime));
  }
});

// The other way round: a log line dated back (an event's own time, hours ago) was the last
// record, and its timestamp, not the time it was logged, was taken as the sign of life. With
// no heartbeat since the span started, the crash record ended at its start, before the lines
// logged in it (review D2). The observed time says when the process took the line.
test('a log line dated hours back is logged now: the crash record does not end before it', async () => {
  const journalDir = join(tempDir(), 'journal');
  const realNow = Date.now;
  const hourAgo = realNow() - 3_600_000;
  const loggedAt = realNow() - 1_000;
  // The writer's own clock readings (headers, heartbeats) an hour back, and its files' times.
  Date.now = () => realNow() - 3_600_000;
  let dead;
  try {
    dead = writeDeadJournal(journalDir, 20, { openEvery: 10, lastLogTimestamp: hourAgo - 3_600_000, lastLogObservedAt: loggedAt });
  } finally {
    Date.now = realNow;
  }
  for (const name of readdirSync(dead.writerDir)) utimesSync(join(dead.writerDir, name), hourAgo / 1000, hourAgo / 1000);
  const exporter = new CollectingExporter();

  const report = await recoverJournals({ journalDir, exporter });

  expect(report).toMatchObject({ journals: 1, spansCrashed: dead.open, failures: [] });
  const crashed = exporter.spans.filter((span) => span.status.code === 2);
  expect(crashed).toHaveLength(dead.open);
  for (const span of crashed) expect(hrTimeToMilliseconds(span.endTime)).toBeGreaterThanOrEqual(loggedAt);
});
