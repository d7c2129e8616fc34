// The segment files of a writer directory, in order: the directory also holds the writer's
// lock file (writer.lock) and, in a dead writer's, recovery's progress file.
import { readdirSync, readlinkSync } from 'node:fs';
import { parseSegmentFileName } from '../../src/journal/journalPaths.js';

export function segmentNames(writerDir: string): string[] {
  return readdirSync(writerDir)
    .filter((name) => parseSegmentFileName(name) !== undefined)
    .sort();
}

/** What this process's open descriptors under `dir` point at. */
export function descriptorsUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return '';
      }
    })
    .filter((target) => target.startsWith(dir));
}
