// A segment preallocated to its capacity and mapped MAP_SHARED: append() is a copy into
// the mapping, no system call. A store into a shared file mapping is in the page cache
// when it is made, so it survives SIGKILL, OOM kill, segfault and abort() as write(2) does.
//
// Never SIGBUS the host: blocks are allocated (fallocate) for the whole capacity before
// the file is mapped, only on filesystems that write preallocated blocks in place, and
// the file is cut to its records (ftruncate) only after munmap.
import { closeSync, fdatasync, ftruncateSync, futimesSync, readSync } from 'node:fs';
import { openSync, unlinkSync } from '../../untracedFs.js';
import { isMainThread } from 'node:worker_threads';
import { descriptorIdentity, descriptorIsStill, descriptorLostError, isStillAtPath, type FileIdentity } from '../fileIdentity.js';
import { ownerOnlyFile } from '../ownerOnly.js';
import { encodeFrameInto } from '../frame.js';
import type { RecordType } from '../recordTypes.js';
import type { SegmentFile } from './SegmentFile.js';
import { markAddonUnusable } from './segmentIoAddon.js';
import type { SegmentIoAddon } from './segmentIoAddon.js';

// statfs f_type values (linux/magic.h) of filesystems where a store into a page whose
// blocks fallocate() allocated never needs a new block. Copy-on-write filesystems (btrfs,
// zfs), network ones and overlayfs (whose upper layer we cannot see) are left to write(2).
/**
 * Jobs of segment files (populate, drop, release) queued on the thread pool and not done
 * yet, in this thread. At MAX_JOBS_ON_POOL the pool is behind (an application keeping it
 * busy): the jobs that only save time (faulting pages ahead, unmapping those passed) are
 * not queued, and a release (an unmap and a cut) is done on the spot. Queued, each closed segment
 * waited for its jobs and then its release, keeping its preallocated room, its descriptor
 * and its mapping: a journal capped at 256 KiB took 1.4 MiB of disk, one at 16 MiB took 64
 * MiB, and the application's own writes failed for a full disk (an attack).
 */
let jobsOnPool = 0;
/** Jobs of segment files on the pool now: for tests, which need the pool not seen behind. */
export function segmentJobsOnPool(): number {
  return jobsOnPool;
}

// A healthy pool has up to about this many at once: the live segment's populate and drop,
// the spare's populate, the closing segment's release.
const MAX_JOBS_ON_POOL = 4;

/** Counts a job queued on the pool until its callback: `queue` is handed the callback to give the addon. */
function onPool(queue: (done: (error: unknown) => void) => void, done: (error: unknown) => void): void {
  queue((error) => {
    jobsOnPool -= 1;
    done(error);
  });
  jobsOnPool += 1;
}

const MAPPABLE_FILESYSTEMS = new Map<number, string>([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x01021994, 'tmpfs'],
]);

/**
 * Names of filesystems a journal directory is often found on and cannot be mapped, for the
 * line that says so (a hex f_type told nobody anything). overlayfs is a container's
 * writable layer: a volume gets the mapped path.
 */
const UNMAPPABLE_FILESYSTEMS = new Map<number, string>([
  [0x794c7630, 'overlayfs (a container\'s writable layer: put journalDir on a volume, such as a Kubernetes emptyDir or a Docker volume, on ext4, xfs or tmpfs, for memory-mapped segments)'],
  [0x9123683e, 'btrfs'],
  [0x2fc12fc1, 'zfs'],
  [0x6969, 'nfs'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x65735546, 'a FUSE filesystem'],
  [0x01021997, 'v9fs'],
  [0x73717368, 'squashfs'],
]);

function filesystemName(type: number): string {
  return UNMAPPABLE_FILESYSTEMS.get(type) ?? `filesystem type 0x${type.toString(16)}`;
}

const PAGE_BYTES = 4096;
/**
 * Pages are faulted in this far ahead of the writer, a window at a time, so a segment
 * costs page cache as it fills rather than at once, and a job is short (256 pages).
 */
const POPULATE_WINDOW_BYTES = 1024 * 1024;

/** How long closeAtExit() waits for a job still using the mapping before it cuts past the job's pages instead. */
const EXIT_JOB_WAIT_MILLIS = 20;

/**
 * Pages the writer has passed are unmapped (their data stays in the page cache) once this
 * many have gathered: a mapped page counts in the process's RSS, and a whole segment of
 * them did (8 MiB) until rotation unmapped it. Whole 64 KiB blocks: a page on every page
 * size Linux uses.
 */
const DROP_STEP_BYTES = 1024 * 1024;
const DROP_ALIGN_BYTES = 64 * 1024;

type State = 'open' | 'closing' | 'closed';

export class MmapSegmentFile implements SegmentFile {
  readonly kind = 'mmap';
  readonly path: string;
  readonly capacity: number;
  private readonly fd: number;
  /** The file `fd` was opened on: a number the application closed and reused is not touched (fileIdentity.ts). */
  private readonly identity: FileIdentity | undefined;
  /** The application closed `fd` (a sweep): the mapping is let go of without it. */
  private descriptorLost = false;
  private readonly addon: SegmentIoAddon;
  private readonly mapping: ArrayBuffer;
  /** The mapping as a Buffer: frames are encoded straight into it. */
  private readonly view: Buffer;
  private size = 0;
  private state: State = 'open';
  /** 1 while a thread-pool job uses the mapping (see native/segment_io.c): one faults pages in, one syncs, one unmaps pages behind the writer. */
  private readonly populating = new Int32Array(1);
  private readonly syncing = new Int32Array(1);
  private readonly dropping = new Int32Array(1);
  /** Pages below this offset are unmapped, or being unmapped (see DROP_STEP_BYTES). */
  private droppedTo = 0;
  /** Bytes below this offset were synced by a finished background sync. */
  private syncedTo = 0;
  /** Pages below this offset are faulted in, or being faulted in. */
  private populatedTo = 0;
  private unmapped = false;
  /** Background fdatasyncs still using the descriptor. */
  private syncs = 0;
  /** closeAtExit(): no thread-pool callback comes again, so nothing is left to one. */
  private exiting = false;

  /**
   * Creates the file (0600, must not exist; that failure throws, as on the write(2) path)
   * and maps it. Returns why not, instead, when this segment must use write(2); the file
   * is then removed again.
   */
  static open(path: string, preallocateBytes: number, addon: SegmentIoAddon): MmapSegmentFile | string {
    const capacity = Math.ceil(Math.max(preallocateBytes, PAGE_BYTES) / PAGE_BYTES) * PAGE_BYTES;
    const fd = openSync(path, 'wx+', 0o600);
    ownerOnlyFile(fd);
    let mapping: ArrayBuffer;
    try {
      const type = addon.filesystemType(fd);
      if (!MAPPABLE_FILESYSTEMS.has(type)) {
        throw Object.assign(new Error(`it is on ${filesystemName(type)}, not a filesystem known to write preallocated blocks in place (ext4, xfs, tmpfs)`), { code: 'FS' });
      }
      addon.fallocate(fd, capacity);
      mapping = addon.map(fd, capacity);
    } catch (error) {
      closeSync(fd);
      unlinkSync(path);
      const { code, message } = error as NodeJS.ErrnoException;
      if (code === 'EXTERNAL_BUFFER_REFUSED') markAddonUnusable(message);
      return message;
    }
    return new MmapSegmentFile(path, fd, mapping, addon);
  }

  private constructor(path: string, fd: number, mapping: ArrayBuffer, addon: SegmentIoAddon) {
    this.path = path;
    this.fd = fd;
    this.identity = descriptorIdentity(fd);
    this.addon = addon;
    this.mapping = mapping;
    this.view = Buffer.from(mapping);
    this.capacity = mapping.byteLength;
    this.populateAhead();
  }

  /** The first store into each fresh page costs 7-8 µs here (issue #9): fault them in on the thread pool, ahead of the writer. */
  private populateAhead(): void {
    if (this.populating[0] !== 0 || this.populatedTo >= this.capacity || jobsOnPool >= MAX_JOBS_ON_POOL) return;
    const from = this.populatedTo;
    this.populatedTo = Math.min(this.capacity, Math.max(from, this.size) + POPULATE_WINDOW_BYTES);
    try {
      onPool(
        (done) => this.addon.populate(this.mapping, from, this.populatedTo - from, this.populating, done),
        () => {
          if (this.state === 'closing') this.release();
        },
      );
    } catch {
      // Only a cost: the writer faults the pages itself.
    }
  }

  /** Unmaps the pages the writer has passed (see DROP_STEP_BYTES); called with populateAhead, every half window. */
  private dropBehind(): void {
    if (this.addon.drop === undefined || this.dropping[0] !== 0 || jobsOnPool >= MAX_JOBS_ON_POOL) return;
    const to = Math.floor(this.size / DROP_ALIGN_BYTES) * DROP_ALIGN_BYTES;
    if (to - this.droppedTo < DROP_STEP_BYTES) return;
    const from = this.droppedTo;
    this.droppedTo = to;
    try {
      onPool(
        (done) => this.addon.drop!(this.mapping, from, to - from, this.dropping, done),
        () => {
          if (this.state === 'closing') this.release();
        },
      );
    } catch {
      // Only memory: the pages stay mapped until the segment is released.
      this.droppedTo = this.capacity;
    }
  }

  get bytes(): number {
    return this.size;
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  append(data: Uint8Array): 'written' | 'no-room' {
    if (this.state !== 'open') throw new Error(`journal segment ${this.path} is closed`);
    if (this.size + data.length > this.capacity) return 'no-room';
    this.view.set(data, this.size);
    this.size += data.length;
    if (this.size + POPULATE_WINDOW_BYTES / 2 > this.populatedTo) this.aheadAndBehind();
    return 'written';
  }

  /** Encodes the frame in place: no copy, no system call. */
  appendFrame(type: RecordType, json: string): 'written' | 'no-room' {
    if (this.state !== 'open') throw new Error(`journal segment ${this.path} is closed`);
    // The addon's encodeFrame writes the same bytes in one call (native/segment_io.c); a
    // build/Release addon from before it falls back to JavaScript.
    const length = this.addon.encodeFrame !== undefined ? this.addon.encodeFrame(this.mapping, this.size, type, json) : encodeFrameInto(this.view, this.size, type, json);
    if (length < 0) return 'no-room';
    this.size += length;
    if (this.size + POPULATE_WINDOW_BYTES / 2 > this.populatedTo) this.aheadAndBehind();
    return 'written';
  }

  private aheadAndBehind(): void {
    this.populateAhead();
    this.dropBehind();
  }

  /**
   * A store into a shared mapping sets no time once its page was faulted in for writing
   * (populateAhead): on tmpfs the time never moved, on ext4 only at writeback. Recovery
   * judges a writer it cannot check by lock or pid by its files' times, so the writer's
   * heartbeats set it: one system call every heartbeatIntervalMillis. Synchronous, so it
   * can only touch this file while it is open (a thread-pool call could find the number
   * closed and given to another file). By the kernel's clock where the addon can (a
   * writer whose own clock ran a day behind was judged dead while it ran).
   */
  touch(): void {
    if (this.state !== 'open' || !this.descriptorIsItsOwn()) return;
    if (this.addon.touch) return this.addon.touch(this.fd);
    const now = Date.now() / 1000;
    futimesSync(this.fd, now, now);
  }

  syncDataNow(): void {
    if (this.state === 'open') this.addon.msync(this.mapping);
  }

  /**
   * The 'host' group commit: msync(MS_SYNC) of the pages written since the last one, on the
   * thread pool. Only those: fdatasync of the file also wrote back the pages faulted in
   * ahead of the writer (zeros) and write-protected them, so the writer faulted on each of
   * them again. (msync with MS_SYNC is fdatasync of the range on Linux: the data and the
   * metadata needed to read it back.) The caller runs one at a time.
   */
  syncDataInBackground(callback: (error: NodeJS.ErrnoException | null) => void): void {
    if (this.state !== 'open') return callback(null);
    const from = this.syncedTo;
    const to = this.size;
    this.syncs += 1;
    const done = (error: NodeJS.ErrnoException | null): void => {
      this.syncs -= 1;
      if (error === null) this.syncedTo = Math.max(this.syncedTo, to);
      if (this.state === 'closing') this.release();
      callback(error);
    };
    try {
      this.addon.syncRange(this.mapping, from, to - from, this.syncing, done);
    } catch {
      // An addon without syncRange: the whole file, as before.
      this.syncing[0] = 0;
      if (!this.descriptorIsItsOwn()) return process.nextTick(done, descriptorLostError(this.path));
      fdatasync(this.fd, done);
    }
  }

  /**
   * Unmaps, cuts the file to its records and closes it: on the thread pool once no other
   * job uses the mapping or the descriptor (at once, in the usual case), else when the last
   * one is done.
   */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.release();
  }

  /**
   * At the process's exit, after which no thread-pool callback runs: unmaps and cuts the
   * file to its records here, where close() would leave that to the pool and the file kept
   * its preallocated room (an application that threw at start left 8 MiB per restart of
   * its crash loop). A job of the pool that still holds the mapping after a moment's wait
   * (queued behind the application's own work) may touch pages up to populatedTo, never
   * past: the file is cut there instead, and the mapping left to the job, so no store
   * ever falls past the end of the file (SIGBUS).
   */
  closeAtExit(): void {
    if (this.state !== 'open') return;
    this.exiting = true;
    // The first window's faults, queued at start, take a few ms: an application that throws
    // at once mostly finds them under way.
    const waitUntil = performance.now() + EXIT_JOB_WAIT_MILLIS;
    while (this.jobRunning() && performance.now() < waitUntil);
    if (this.jobRunning() && !this.descriptorLost && descriptorIsStill(this.fd, this.identity)) {
      try {
        ftruncateSync(this.fd, Math.min(this.capacity, Math.ceil(Math.max(this.size, this.populatedTo) / PAGE_BYTES) * PAGE_BYTES));
      } catch {
        // Left as it is: readers take a zero tail as the end of the records.
      }
    }
    this.close();
  }

  private jobRunning(): boolean {
    return Atomics.load(this.populating, 0) !== 0 || Atomics.load(this.syncing, 0) !== 0 || Atomics.load(this.dropping, 0) !== 0;
  }

  isAtItsPath(): boolean {
    return this.state === 'open' && descriptorIsStill(this.fd, this.identity) && isStillAtPath(this.identity, this.path);
  }

  descriptorIsItsOwn(): boolean {
    return this.state === 'closed' || (!this.descriptorLost && descriptorIsStill(this.fd, this.identity));
  }

  /** Through the descriptor (the file is opened for reading too): the page cache holds what the mapping stored. */
  readAt(buffer: Buffer, position: number): number {
    if (this.state === 'closed' || !this.descriptorIsItsOwn()) throw descriptorLostError(this.path);
    return readSync(this.fd, buffer, 0, buffer.length, position);
  }

  /**
   * Closes the descriptor with fs once the addon has released the mapping on the thread
   * pool: in a worker thread, Node closes at the worker's end every descriptor the worker
   * opened with fs and did not close with fs, so one closed by the addon stayed on its list
   * and took the file that next got its number with it. Synchronously: the unmap and the cut
   * are done, so it is quick, and a worker's end cancels fs requests still queued for the
   * thread pool, which left the descriptor open for good.
   */
  private closeAfterRelease(): void {
    if (this.addon.releaseLeavesDescriptor !== true) return;
    // The release ran on the thread pool, behind the application's own jobs: the application
    // may have closed the descriptor meanwhile and been given its number for a file of its
    // own. (The addon's job, seeing the same, did not cut it: EBADF.)
    if (!descriptorIsStill(this.fd, this.identity)) return;
    try {
      closeSync(this.fd);
    } catch {
      // Nothing useful to do: the data is in the page cache.
    }
  }

  private release(): void {
    if (this.state === 'closed') return;
    const jobRunning = this.jobRunning();
    if (!this.descriptorLost && !descriptorIsStill(this.fd, this.identity)) this.descriptorLost = true;
    if (this.descriptorLost) return this.releaseWithoutDescriptor(jobRunning);
    // An addon from before releaseLeavesDescriptor closes the descriptor itself: not in a
    // worker thread, where Node would close that number again at the worker's end.
    const releases = this.addon.release !== undefined && (this.addon.releaseLeavesDescriptor === true || isMainThread);
    // Behind a busy pool (jobsOnPool), and at exit, it is done here: an unmap and a cut.
    // (Under 'host', a closed segment is synced by its path: GroupCommit.closeRotated.)
    const poolBehind = jobsOnPool >= MAX_JOBS_ON_POOL || this.exiting;
    if (!this.unmapped && !jobRunning && this.syncs === 0 && releases && !poolBehind) {
      try {
        // Nothing useful to do with a failure: the records are in the page cache either way.
        onPool(
          (done) => this.addon.release!(this.mapping, this.fd, this.size, done),
          () => this.closeAfterRelease(),
        );
        this.unmapped = true;
        this.state = 'closed';
        return;
      } catch {
        // Not queued: unmapped here instead, below.
      }
    }
    if (!this.unmapped && !jobRunning) {
      this.unmapped = true;
      try {
        this.addon.unmap(this.mapping);
        // Only now that nothing maps it: the zeros past the records go back to the disk.
        ftruncateSync(this.fd, this.size);
      } catch {
        // Left as it is: readers take a zero tail as the end of the records.
      }
    }
    if (!this.unmapped || this.syncs > 0) return;
    this.state = 'closed';
    try {
      closeSync(this.fd);
    } catch {
      // Nothing useful to do: the data is in the page cache.
    }
  }

  /**
   * release() once the application closed the descriptor: the mapping holds a reference of
   * its own to the file, so it is unmapped as usual, but the number is left alone (no cut:
   * readers take the zeros past the records as their end; no sync; no close), since it may
   * be the application's own file by now.
   */
  private releaseWithoutDescriptor(jobRunning: boolean): void {
    if (!this.unmapped && !jobRunning) {
      this.unmapped = true;
      try {
        this.addon.unmap(this.mapping);
      } catch {
        // Left mapped: only memory.
      }
    }
    if (!this.unmapped || this.syncs > 0) return;
    this.state = 'closed';
  }
}
