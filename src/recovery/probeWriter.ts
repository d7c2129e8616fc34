// Reads just enough of a writer's directory to judge liveness — the first segment's
// header and the files' modification times — without reading a live journal whole.
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSegmentFileName } from '../journal/journalPaths.js';
import { readSegment } from '../journal/readSegment.js';
import { RecordType } from '../journal/recordTypes.js';
import type { SegmentHeader } from '../journal/recordTypes.js';

const HEADER_PROBE_BYTES = 64 * 1024;

export interface WriterProbe {
  header: SegmentHeader | undefined;
  lastModifiedMs: number;
  segments: number;
}

export async function probeWriter(dir: string): Promise<WriterProbe> {
  const names = (await readdir(dir)).filter((name) => parseSegmentFileName(name) !== undefined).sort();
  let lastModifiedMs = (await stat(dir)).mtimeMs;
  let header: SegmentHeader | undefined;
  for (const name of names) {
    const path = join(dir, name);
    try {
      lastModifiedMs = Math.max(lastModifiedMs, (await stat(path)).mtimeMs);
      if (header) continue;
      const file = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(HEADER_PROBE_BYTES);
        const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
        const first = readSegment(buffer.subarray(0, bytesRead)).records.find((r) => r.type === RecordType.SegmentHeader);
        header = first?.payload as SegmentHeader | undefined;
      } finally {
        await file.close();
      }
    } catch {
      // A segment deleted under us (its writer is alive and committing): nothing to judge by.
    }
  }
  return { header, lastModifiedMs, segments: names.length };
}
