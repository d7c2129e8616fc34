// Layout of a journal directory: one sub-directory per writer (process or worker thread),
// holding numbered segment files. A whole writer directory is the unit recovery claims,
// with one atomic rename.
import { join } from 'node:path';

const SEGMENT_PATTERN = /^(\d{8})\.seg$/;
const CLAIM_MARKER = '.recovering-';

export function segmentFileName(segment: number): string {
  return `${String(segment).padStart(8, '0')}.seg`;
}

export function segmentPath(writerDir: string, segment: number): string {
  return join(writerDir, segmentFileName(segment));
}

/** Segment number of a file name, or undefined when the file is not a segment. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_PATTERN.exec(name);
  return match ? Number(match[1]) : undefined;
}

export function isWriterDirName(name: string): boolean {
  return /^w[0-9a-z]{9}-\d+-\d+-[0-9a-f]{16}$/.test(name);
}

export function claimedDirName(writerDirName: string, claimerId: string): string {
  return `${writerDirName}${CLAIM_MARKER}${claimerId}`;
}

/** For a claimed directory, the writer it holds and who claimed it. */
export function parseClaimedDirName(name: string): { writerId: string; claimerId: string } | undefined {
  const at = name.indexOf(CLAIM_MARKER);
  if (at < 0) return undefined;
  const writerId = name.slice(0, at);
  const claimerId = name.slice(at + CLAIM_MARKER.length);
  return isWriterDirName(writerId) && isWriterDirName(claimerId) ? { writerId, claimerId } : undefined;
}
