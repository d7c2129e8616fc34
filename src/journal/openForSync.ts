// Opens a journal file or directory to sync it. Out of descriptors (EMFILE, ENFILE: the
// application's, for a moment), the open is tried again a little later rather than
// failed: a failed sync breaks the journal, and under 'host' its repair writes every open
// span's START again. Given up after a few seconds' worth of attempts.
const OPEN_ATTEMPTS = 50;
const OPEN_RETRY_MILLIS = 100;

export type OpenCallback = (error: NodeJS.ErrnoException | null, fd: number) => void;

export function openForSync(open: (path: string, callback: OpenCallback) => void, path: string, callback: OpenCallback, attempt = 1): void {
  open(path, (error, fd) => {
    if (error !== null && (error.code === 'EMFILE' || error.code === 'ENFILE') && attempt < OPEN_ATTEMPTS) {
      setTimeout(() => openForSync(open, path, callback, attempt + 1), OPEN_RETRY_MILLIS).unref();
      return;
    }
    callback(error, fd);
  });
}
