// Everything a dead writer's journal says, folded into one picture: which spans ended
// and are not yet committed, which started and never ended, and the writer's last sign of
// life. Reading never throws on damage; what was skipped is counted.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSegmentFileName } from '../journal/journalPaths.js';
import { isAtOrAfter } from '../journal/JournalPosition.js';
import type { JournalPosition } from '../journal/JournalPosition.js';
import { readSegment } from '../journal/readSegment.js';
import { RecordType } from '../journal/recordTypes.js';
import type {
  CommitRecord,
  HeartbeatRecord,
  ProcessExitRecord,
  ResourceRecord,
  SegmentHeader,
  SpanEndRecord,
  SpanStartRecord,
} from '../journal/recordTypes.js';
import type { HrTime } from '@opentelemetry/api';

export interface WriterJournal {
  dir: string;
  header: SegmentHeader | undefined;
  resources: Map<number, ResourceRecord['a']>;
  /** SPAN_END records not covered by a COMMIT watermark, by span id. */
  uncommittedEnds: Map<string, SpanEndRecord>;
  /** SPAN_START records with no SPAN_END anywhere in the journal, by span id. */
  openStarts: Map<string, SpanStartRecord>;
  exit: ProcessExitRecord | undefined;
  lastHeartbeatMs: number | undefined;
  /** The latest moment the writer is known to have been alive. */
  lastSignOfLifeMs: number;
  segments: number;
  damagedBytes: number;
  tornBytes: number;
}

function hrTimeToMs(time: HrTime): number {
  return time[0] * 1000 + time[1] / 1e6;
}

/** An END at `at` is committed when the highest COMMIT watermark is at or after it. */
function isCommitted(at: JournalPosition, watermark: JournalPosition | undefined): boolean {
  return watermark !== undefined && isAtOrAfter(watermark, at);
}

export async function readWriterJournal(dir: string): Promise<WriterJournal> {
  const names = (await readdir(dir)).filter((name) => parseSegmentFileName(name) !== undefined).sort();
  const journal: WriterJournal = {
    dir,
    header: undefined,
    resources: new Map(),
    uncommittedEnds: new Map(),
    openStarts: new Map(),
    exit: undefined,
    lastHeartbeatMs: undefined,
    lastSignOfLifeMs: 0,
    segments: names.length,
    damagedBytes: 0,
    tornBytes: 0,
  };
  const starts = new Map<string, SpanStartRecord>();
  const ends: { record: SpanEndRecord; at: JournalPosition }[] = [];
  let watermark: JournalPosition | undefined;
  const alive = (ms: number): void => {
    if (ms > journal.lastSignOfLifeMs) journal.lastSignOfLifeMs = ms;
  };

  for (const name of names) {
    const segment = parseSegmentFileName(name)!;
    const path = join(dir, name);
    const bytes = await readFile(path);
    alive((await stat(path)).mtimeMs);
    const contents = readSegment(bytes);
    journal.damagedBytes += contents.damaged.reduce((sum, range) => sum + range.length, 0);
    journal.tornBytes += contents.tornTailBytes;
    for (const record of contents.records) {
      switch (record.type) {
        case RecordType.SegmentHeader: {
          const header = record.payload as SegmentHeader;
          journal.header ??= header;
          alive(header.createdMs);
          break;
        }
        case RecordType.Resource: {
          const resource = record.payload as ResourceRecord;
          journal.resources.set(resource.id, resource.a);
          break;
        }
        case RecordType.SpanStart: {
          const start = record.payload as SpanStartRecord;
          starts.set(start.s, start);
          alive(hrTimeToMs(start.st));
          break;
        }
        case RecordType.SpanEnd: {
          const end = record.payload as SpanEndRecord;
          ends.push({ record: end, at: { segment, offset: record.end } });
          alive(hrTimeToMs(end.et));
          break;
        }
        case RecordType.Heartbeat: {
          const beat = record.payload as HeartbeatRecord;
          journal.lastHeartbeatMs = Math.max(journal.lastHeartbeatMs ?? 0, beat.ms);
          alive(beat.ms);
          break;
        }
        case RecordType.ProcessExit: {
          const exit = record.payload as ProcessExitRecord;
          // An uncaught exception is followed by the exit it causes: keep the error.
          journal.exit = { ...journal.exit, ...exit, error: exit.error ?? journal.exit?.error, code: exit.code ?? journal.exit?.code };
          alive(exit.ms);
          break;
        }
        case RecordType.Commit: {
          const commit = record.payload as CommitRecord;
          const at = { segment: commit.segment, offset: commit.offset };
          if (!watermark || !isCommitted(at, watermark)) watermark = at;
          alive(commit.ms);
          break;
        }
      }
    }
  }
  const ended = new Set<string>();
  for (const { record, at } of ends) {
    ended.add(record.s);
    if (!isCommitted(at, watermark)) journal.uncommittedEnds.set(record.s, record);
  }
  for (const [spanId, start] of starts) if (!ended.has(spanId)) journal.openStarts.set(spanId, start);
  return journal;
}
