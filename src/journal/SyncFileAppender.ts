// Appends whole buffers to a file with write(2) before returning, following sonic-boom's
// sync path: loop until every byte is written (short writes happen), retry EAGAIN a
// bounded number of times, and on failure cut the file back to the last whole record so
// a half-written frame never sits in front of later ones.
import * as nodeFs from 'node:fs';

/** The file operations the appender uses; tests pass a faulty one to inject errors. */
export interface AppenderFileSystem {
  openSync: typeof nodeFs.openSync;
  writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number) => number;
  fsyncSync: (fd: number) => void;
  fdatasyncSync: (fd: number) => void;
  fdatasync: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void;
  ftruncateSync: (fd: number, length: number) => void;
  closeSync: (fd: number) => void;
}

export const realFileSystem: AppenderFileSystem = nodeFs;

const MAX_EAGAIN_RETRIES = 10;

export class SyncFileAppender {
  readonly path: string;
  private fd: number;
  private size: number;
  private readonly fs: AppenderFileSystem;

  /** Creates the file (0600, must not exist) and fails here if it cannot. */
  constructor(path: string, fs: AppenderFileSystem = realFileSystem) {
    this.path = path;
    this.fs = fs;
    this.fd = fs.openSync(path, 'wx', 0o600);
    this.size = 0;
  }

  get bytes(): number {
    return this.size;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** Writes all of `data` or throws; after a throw the file ends at a record boundary. */
  append(data: Uint8Array): void {
    if (this.fd < 0) throw new Error(`journal segment ${this.path} is closed`);
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
  }

  private cutBackTo(length: number): void {
    try {
      this.fs.ftruncateSync(this.fd, length);
    } catch {
      // The reader skips a partial frame by its checksum; truncation is only tidiness.
    }
  }

  syncDataNow(): void {
    if (this.fd >= 0) this.fs.fdatasyncSync(this.fd);
  }

  /** fdatasync on the thread pool: the caller does not wait for the disk. */
  syncDataInBackground(callback: (error: NodeJS.ErrnoException | null) => void): void {
    if (this.fd < 0) return callback(null);
    this.fs.fdatasync(this.fd, callback);
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      this.fs.closeSync(fd);
    } catch {
      // Nothing useful to do: the data was already written.
    }
  }
}
