// maxConcurrentExports as export() calls running at once, not batches held. A call holds
// its slot until its callback comes, past exportTimeoutMillis too (its late result still
// counts: exportBatch.ts), and lets it go only when given up. A batch waiting out its
// backoff holds none, so another batch can be tried meanwhile: under maxConcurrentExports
// 1, that other batch is the only way to tell a batch the exporter refuses from an
// exporter that is down.

export class ExportSlots {
  private readonly size: number;
  private used = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(size: number) {
    this.size = size;
  }

  get free(): number {
    return this.size - this.used;
  }

  /** Resolves true holding a slot, or false once `signal` has aborted (holding none). */
  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.used < this.size && this.waiting.length === 0) {
      this.used += 1;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = (granted: boolean): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(granted);
      };
      const onAbort = (): void => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        grant(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    // Handed on as it is: the slot stays used.
    if (next !== undefined) next(true);
    else this.used -= 1;
  }
}
