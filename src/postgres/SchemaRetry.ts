// When the exporter may try its migrations again after the database refused them. Each
// attempt asks for its tables' locks, and while it waits (up to TABLE_LOCK_WAIT_MILLIS,
// migrate.ts) every writer of those tables queues behind it: tried again with every batch
// (the processor retries a failed batch within 5 s), a migration stuck behind a long
// reader kept the tables' writers waiting most of the time, in every process that runs
// the exporter. So after such a failure batches fail at once, saying why and when the
// next attempt is, until a delay that doubles with each failure has passed. A lost
// connection, or one the database refused (not accepting connections, a missing database),
// is not the migration's failure: it asked for no lock, the batch could not be written
// either, and the next batch tries again as soon as the database is back. (Counted as one,
// a restart that refused connections for 30 s held export back 31 s after it was over,
// and up to 5 minutes after a longer one: a soak.)
import { PostgresExportError } from './PostgresExportError.js';
import { isConnectionFailure } from './sqlState.js';

export const SCHEMA_RETRY_BASE_MILLIS = 5_000;
export const SCHEMA_RETRY_CAP_MILLIS = 5 * 60_000;

/** Between half and all of base · 2^(failures − 1), at most the cap: processes that failed together spread out. */
export function schemaRetryDelayMillis(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(SCHEMA_RETRY_CAP_MILLIS, SCHEMA_RETRY_BASE_MILLIS * 2 ** Math.min(Math.max(failures - 1, 0), 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class SchemaRetry {
  #failures = 0;
  #retryAt = 0;
  #last: PostgresExportError | undefined;

  /** A migration attempt failed with `failure` (its cause the driver's error); `connecting`: before it had a connection. */
  failed(failure: PostgresExportError, connecting = false): void {
    if (connecting || isConnectionFailure(failure.cause)) return;
    this.#failures += 1;
    this.#retryAt = performance.now() + schemaRetryDelayMillis(this.#failures);
    this.#last = failure;
  }

  succeeded(): void {
    this.#failures = 0;
    this.#last = undefined;
  }

  /** Why a batch must not try the migration now, or undefined when it may. */
  refusal(schema: string): PostgresExportError | undefined {
    const last = this.#last;
    const wait = this.#retryAt - performance.now();
    if (last === undefined || wait <= 0) return undefined;
    const times = this.#failures === 1 ? 'once' : `${this.#failures} times`;
    return new PostgresExportError(
      `PostgresSpanExporter did not write the batch: migrating schema "${schema}" failed ${times}, and is tried again in about ${Math.ceil(wait / 1000)} s ` +
        `(each attempt makes the writers of its tables wait for it). Last failure: ${last.message}`,
      last.kind,
      last.sqlState,
      { cause: last },
    );
  }
}
