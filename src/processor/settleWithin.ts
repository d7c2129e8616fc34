// Waits for a promise the caller does not control (an exporter's shutdown or forceFlush)
// for at most `millis`. The timer is ref'd on purpose: it exists only while a caller
// awaits shutdown() or forceFlush(), and without it a process whose other handles are
// all unref'd exits with that await never settled (exit code 13 under ESM).
export async function settleWithin(work: Promise<unknown>, millis: number): Promise<'settled' | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed out'>((resolve) => {
    timer = setTimeout(() => resolve('timed out'), Math.max(0, millis));
  });
  const settled = work.then(
    () => 'settled' as const,
    () => 'settled' as const,
  );
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
