import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readSegmentFile } from '../../journal/SegmentFileReader.js';
import { openRegularFileSync } from '../../journal/regularFile.js';
import { SEGMENT_MAGIC } from '../../journal/frame.js';
import { RECORD_TYPE_NAMES } from '../../journal/recordTypes.js';
import { HEADER_PROBE_BYTES, readSegmentHead } from '../../recovery/probeWriter.js';
import { jsonSafe } from '../../journal/attributeValues.js';
import type { JournalRecord } from '../../journal/readSegment.js';
import { EXIT, UsageError, HELP_OPTION, parseOrUsage } from '../cliSupport.js';
import type { CommandIo } from '../cliSupport.js';
import { jsonLine, printable } from '../terminalText.js';

export const inspectHelp = `Usage: otel-blackbox inspect <segment-file>

Prints every record of a journal segment (or of a segment's .settled side file) as one
JSON line: {"offset", "type", "record"}.
Damaged ranges and a torn final record are printed as lines of their own:
{"offset", "damaged": <bytes>, "reason"} and {"offset", "torn": <bytes>}.

Options:
  -h, --help   show this help

Exit status: 0 for an intact segment, 3 when damaged or torn bytes were found,
1 when the file cannot be read, is not a segment, or is a newer otel-blackbox's.`;

export async function inspectCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseOrUsage(() => parseArgs({ args, strict: true, allowPositionals: true, options: HELP_OPTION }));
  if (values.help) {
    io.out(inspectHelp);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UsageError('inspect takes exactly one segment file');
  let damagedOrTorn = false;
  let records = 0;
  // A file that does not begin with the segment magic: its lines are held until a record
  // shows it is a damaged segment. With none, it is not a segment at all, and saying
  // "damaged" (exit 3) over the whole of someone's app.mjs told the operator nothing.
  let held: string[] | undefined;
  try {
    // Read as this format, a newer one's records are all damage: said instead, as recover says it.
    const newer = newerFormatOf(positionals[0]);
    if (newer !== undefined) {
      io.err(`otel-blackbox inspect: ${printable(positionals[0])} was written by a newer otel-blackbox (${newer}); this one cannot read it`);
      return EXIT.failed;
    }
    // Chunk by chunk, so a segment of any size is inspected in bounded memory.
    for await (const chunk of readSegmentFile(positionals[0])) {
      const lines: { offset: number; line: string }[] = [];
      records += chunk.records.length;
      for (const record of chunk.records) {
        lines.push({ offset: record.offset, line: recordLine(record) });
      }
      for (const range of chunk.damaged) {
        lines.push({ offset: range.offset, line: JSON.stringify({ offset: range.offset, damaged: range.length, reason: range.reason }) });
      }
      if (chunk.tornTailBytes > 0) {
        lines.push({ offset: chunk.nextOffset, line: JSON.stringify({ offset: chunk.nextOffset, torn: chunk.tornTailBytes }) });
      }
      if (chunk.damaged.some((range) => range.offset === 0 && range.reason === 'bad-magic')) held = [];
      if (held !== undefined && chunk.records.length > 0) {
        for (const line of held) io.out(line);
        held = undefined;
      }
      for (const { line } of lines.sort((a, b) => a.offset - b.offset)) (held === undefined ? io.out(line) : held.push(line));
      if (chunk.damaged.length > 0 || chunk.tornTailBytes > 0) damagedOrTorn = true;
    }
    if (held !== undefined) {
      io.err(`otel-blackbox inspect: ${printable(positionals[0])} is not a journal segment: it does not begin with ${SEGMENT_MAGIC.toString('latin1')} and holds no record`);
      return EXIT.failed;
    }
    // A file whose size reads as 0 was not read at all; procfs and sysfs files say 0 and
    // still hold bytes, and calling /proc/self/status "an empty segment" (exit 0) misled.
    if (records === 0 && !damagedOrTorn && holdsBytesPastItsSize(positionals[0])) {
      io.err(`otel-blackbox inspect: ${printable(positionals[0])} is not a journal segment: its size reads as 0 bytes, yet it holds bytes (a /proc or /sys file?)`);
      return EXIT.failed;
    }
    // Nothing printed, exit 0 read as "it could not be looked at" (a review, on a file of zeros).
    if (records === 0 && !damagedOrTorn) {
      io.err(`otel-blackbox inspect: ${printable(positionals[0])} holds no records: an empty segment, or one made ahead of its rotation (all zeros)`);
    }
  } catch (error) {
    io.err(`otel-blackbox inspect: cannot read ${printable(positionals[0])}: ${printable((error as Error).message)}`);
    return EXIT.failed;
  }
  return damagedOrTorn ? EXIT.damaged : EXIT.ok;
}

/** Why the segment at `path` is of a newer format than this code reads (readSegmentHead, as recover judges it), or undefined. */
function newerFormatOf(path: string): string | undefined {
  // As the segment itself is opened: a FIFO must not block, a device not be read without end.
  const { fd } = openRegularFileSync(path);
  try {
    const buffer = Buffer.alloc(HEADER_PROBE_BYTES);
    return readSegmentHead(buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0))).newerFormat;
  } finally {
    closeSync(fd);
  }
}

/** Whether a file that reported a size of 0 yields bytes when read (a real empty segment yields none). */
function holdsBytesPastItsSize(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size === 0 && readSync(fd, Buffer.alloc(1), 0, 1, 0) > 0;
  } finally {
    closeSync(fd);
  }
}

/**
 * A record as one JSON line; one nested deeper than JSON.stringify can go (JSON.parse can)
 * is printed cut to the depth the journal keeps, "[Too deep]" below it. It threw, and the
 * whole segment was "cannot read", nothing printed (a review's fuzzing: a RESOURCE nested
 * 20,000 levels).
 */
function recordLine(record: JournalRecord): string {
  const type = RECORD_TYPE_NAMES[record.type];
  try {
    return jsonLine({ offset: record.offset, type, record: record.payload });
  } catch {
    return jsonLine({ offset: record.offset, type, record: jsonSafe(record.payload) });
  }
}
