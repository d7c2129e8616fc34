// Waits for work the caller does not control (a pool's connect, a migration another process
// may hold up) until a deadline at most: past it the wait rejects with `late()` and the work
// goes on unwatched; the caller lets go of what it brings later. The timer is unref'd: it
// never keeps a process alive, the work it watches (a socket) does while it runs.
export async function beforeDeadline<T>(work: Promise<T>, deadline: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), Math.max(0, deadline - performance.now()));
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
