// Appends whole buffers to a file with write(2) before returning, following sonic-boom's
// sync path: loop until every byte is written (short writes happen), retry EAGAIN a
// bounded number of times, and on failure cut the file back to the last whole record so
// a half-written frame never sits in front of later ones.
// The path wherever the memory-mapped one is not available (see openSegmentFile).
import { readSync } from 'node:fs';
import { descriptorIdentity, descriptorIsStill, descriptorLostError, isStillAtPath, type FileIdentity } from '../fileIdentity.js';
import { ownerOnlyFile } from '../ownerOnly.js';
import { encodeFrame, encodeFrameInto } from '../frame.js';
import type { RecordType } from '../recordTypes.js';
import { realFileSystem } from './SegmentFile.js';
import type { SegmentFile, SegmentFileSystem } from './SegmentFile.js';

const MAX_EAGAIN_RETRIES = 10;
/** Frames are encoded here before their write(2); larger ones get a buffer of their own. */
const staging = Buffer.allocUnsafe(64 * 1024);

type State = 'open' | 'closing' | 'closed';

export class WriteSegmentFile implements SegmentFile {
  readonly path: string;
  readonly kind = 'write';
  readonly capacity = Infinity;
  private readonly fd: number;
  /** The file `fd` was opened on: a number the application closed and reused is not touched (fileIdentity.ts). */
  private readonly identity: FileIdentity | undefined;
  private size: number;
  private readonly fs: SegmentFileSystem;
  /** 'closing': no more appends, but a background fdatasync still uses the descriptor. */
  private state: State = 'open';
  private backgroundSyncs = 0;

  /** Creates the file (0600, must not exist) and fails here if it cannot. */
  constructor(path: string, fs: SegmentFileSystem = realFileSystem) {
    this.path = path;
    this.fs = fs;
    // Readable too: after its path was removed the records are read back through it (readAt).
    this.fd = fs.openSync(path, 'wx+', 0o600);
    if (fs.fchmodSync !== undefined) ownerOnlyFile(this.fd, fs.fchmodSync);
    this.identity = descriptorIdentity(this.fd);
    this.size = 0;
  }

  get bytes(): number {
    return this.size;
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  /** Every write(2) sets the time already. */
  touch(): void {}

  isAtItsPath(): boolean {
    return this.state === 'open' && descriptorIsStill(this.fd, this.identity) && isStillAtPath(this.identity, this.path);
  }

  descriptorIsItsOwn(): boolean {
    return this.state === 'closed' || descriptorIsStill(this.fd, this.identity);
  }

  readAt(buffer: Buffer, position: number): number {
    if (this.state === 'closed' || !this.descriptorIsItsOwn()) throw descriptorLostError(this.path);
    return readSync(this.fd, buffer, 0, buffer.length, position);
  }

  /** Writes all of `data` or throws; after a throw the file ends at a record boundary. */
  append(data: Uint8Array): 'written' {
    if (this.state !== 'open') throw new Error(`journal segment ${this.path} is closed`);
    let written = 0;
    let eagain = 0;
    try {
      while (written < data.length) {
        try {
          written += this.fs.writeSync(this.fd, data, written, data.length - written);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN' && eagain++ < MAX_EAGAIN_RETRIES) continue;
          throw error;
        }
      }
    } catch (error) {
      if (written > 0) this.cutBackTo(this.size);
      throw error;
    }
    this.size += data.length;
    return 'written';
  }

  appendFrame(type: RecordType, json: string): 'written' {
    const length = encodeFrameInto(staging, 0, type, json);
    return this.append(length < 0 ? encodeFrame(type, json) : staging.subarray(0, length));
  }

  private cutBackTo(length: number): void {
    if (!this.descriptorIsItsOwn()) return;
    try {
      this.fs.ftruncateSync(this.fd, length);
    } catch {
      // The reader skips a partial frame by its checksum; truncation is only tidiness.
    }
  }

  syncDataNow(): void {
    if (this.state !== 'open') return;
    if (!this.descriptorIsItsOwn()) throw descriptorLostError(this.path);
    this.fs.fdatasyncSync(this.fd);
  }

  /** fdatasync on the thread pool: the caller does not wait for the disk. */
  syncDataInBackground(callback: (error: NodeJS.ErrnoException | null) => void): void {
    if (this.state !== 'open') return callback(null);
    if (!this.descriptorIsItsOwn()) return callback(descriptorLostError(this.path));
    this.backgroundSyncs += 1;
    this.fs.fdatasync(this.fd, (error) => {
      this.backgroundSyncs -= 1;
      if (this.state === 'closing' && this.backgroundSyncs === 0) this.closeDescriptor();
      callback(error);
    });
  }

  /**
   * Closes the file. A background fdatasync still in flight keeps the descriptor open until
   * it finishes: closing under it would fail it with EBADF, or sync whatever file reused
   * the number.
   */
  close(): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    if (this.backgroundSyncs === 0) this.closeDescriptor();
  }

  /** Nothing is left to the pool but background syncs, which need not be waited for. */
  closeAtExit(): void {
    this.close();
  }

  private closeDescriptor(): void {
    // Checked before the state changes: closed, it counts as its own.
    const own = this.descriptorIsItsOwn();
    this.state = 'closed';
    if (!own) return;
    try {
      this.fs.closeSync(this.fd);
    } catch {
      // Nothing useful to do: the data was already written.
    }
  }
}
