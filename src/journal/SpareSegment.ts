// The next mapped segment, made while the current one fills. Opened at the rotation, a
// segment cost the application ~2.5 ms on our VM (bench/processor-overhead.mjs): creating
// and mapping the file is cheap, but the first store into a fresh file mapping is not
// (ext4 starts a transaction for it; the hypervisor maps the new page tables). A spare is
// made in an idle moment (setImmediate) and its first pages are faulted in on the thread
// pool, so the rotation only stores the head.
//
// It waits under the next segment's own name, all zeros: readers take a segment holding
// nothing but zeros as one with no records yet (readSegment.ts), which is also what a crash
// right after a rotation began leaves. Only mapped segments get a spare: opening a file for
// write(2) costs little.
import { unlinkSync } from '../untracedFs.js';
import { MmapSegmentFile } from './segmentFile/MmapSegmentFile.js';
import { journalWritePath } from './segmentFile/openSegmentFile.js';
import { loadSegmentIoAddon } from './segmentFile/segmentIoAddon.js';

export class SpareSegment {
  private spare: MmapSegmentFile | undefined;
  private pending: NodeJS.Immediate | undefined;
  /** The segment a spare was last asked for: asked once, made or not (a full disk is not asked again). */
  private askedSegment = 0;

  /** Bytes the spare takes on disk (preallocated, all zeros), 0 without one. */
  get bytes(): number {
    return this.spare?.capacity ?? 0;
  }

  /** Whether a spare for `segment` was asked for already: the writer asks for each segment once. */
  askedFor(segment: number): boolean {
    return this.askedSegment === segment;
  }

  /** Makes a spare for `segment` at `path`, soon and outside the caller's synchronous run. */
  prepareSoon(segment: number, path: string, preallocateBytes: number): void {
    this.askedSegment = segment;
    if (this.spare !== undefined || this.pending !== undefined) return;
    this.pending = setImmediate(() => {
      this.pending = undefined;
      this.prepare(path, preallocateBytes);
    });
    this.pending.unref();
  }

  private prepare(path: string, preallocateBytes: number): void {
    if (this.spare !== undefined || journalWritePath().path !== 'mmap') return;
    try {
      const opened = MmapSegmentFile.open(path, preallocateBytes, loadSegmentIoAddon().addon!);
      // A reason instead (a full disk, say): the rotation opens the segment itself, and
      // says what it falls back to.
      if (typeof opened !== 'string') this.spare = opened;
    } catch {
      // The name is taken or the directory is gone: likewise left to the rotation.
    }
  }

  /**
   * The spare made for `path`, if it is still there (its directory was not removed) and has
   * room for `capacity` bytes; otherwise undefined, and a spare that does not fit is removed.
   */
  take(path: string, capacity: number): MmapSegmentFile | undefined {
    const spare = this.detach();
    if (spare === undefined || (spare.path === path && spare.capacity >= capacity && spare.isAtItsPath())) return spare;
    discard(spare);
    return undefined;
  }

  /** Removes the spare and forgets one on its way: at close, and when the journal breaks. */
  clear(): void {
    const spare = this.detach();
    if (spare !== undefined) discard(spare);
  }

  private detach(): MmapSegmentFile | undefined {
    if (this.pending !== undefined) clearImmediate(this.pending);
    this.pending = undefined;
    const spare = this.spare;
    this.spare = undefined;
    return spare;
  }
}

function discard(spare: MmapSegmentFile): void {
  spare.close();
  try {
    unlinkSync(spare.path);
  } catch {
    // Gone already (its directory was removed).
  }
}
