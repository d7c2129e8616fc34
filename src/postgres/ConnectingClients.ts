// The connections of the exporter's own pool that are still being made, so that shutdown
// can give up on them. A server that accepts and never answers (a hung PostgreSQL, a stuck
// proxy, a wrong port) keeps such a connect open until connectionTimeoutMillis, on a
// socket and a pg-pool timer that are both ref'd: after JournalSpanProcessor's shutdown
// had given up waiting for the exporter's, the process lived on until then (4 s of the
// default 10 s; with a longer connectionTimeoutMillis, that long), although the export
// loop must never keep a process alive on its own.
import pg from 'pg';

type ConnectCallback = (error: Error) => void;

export class ConnectingClients {
  /** Each connect under way, with the timer that gives up on it once the exporter is shut down. */
  readonly #connecting = new Map<pg.Client, NodeJS.Timeout | undefined>();
  #graceMillis: number | undefined;

  /** For the pool's `Client` option: a pg.Client whose connects this object follows. */
  readonly Client: typeof pg.Client;

  constructor() {
    const follow = (client: pg.Client) => this.#follow(client);
    this.Client = class FollowedClient extends pg.Client {
      override connect(): Promise<pg.Client>;
      override connect(callback: ConnectCallback): void;
      override connect(callback?: ConnectCallback): Promise<pg.Client> | void {
        const settled = follow(this);
        if (callback === undefined) return super.connect().finally(settled);
        try {
          super.connect((error: Error) => {
            settled();
            callback(error);
          });
        } catch (error) {
          // Thrown by the socket's connect, before node-postgres listens on it (a port no
          // socket can have, as PGPORT=99999). Thrown on, it never reached the callback:
          // pg-pool kept the client as one of its connections (four such, and the pool was
          // full for good), and a connect still followed at shutdown was given up by
          // destroying a socket nobody heard, which ended the process (a review). Answered
          // as a connect that failed, pg-pool forgets the client and the batch fails.
          settled();
          process.nextTick(callback, error instanceof Error ? error : new Error(String(error)));
        }
      }
    };
  }

  /**
   * From now on no connect lasts more than `graceMillis` past this call or its own start,
   * whichever is later: past it its socket is destroyed and the connect fails (the batch
   * waiting on it fails as transient; behind JournalSpanProcessor it stays in the journal).
   */
  limitConnectsTo(graceMillis: number): void {
    this.#graceMillis = graceMillis;
    for (const client of this.#connecting.keys()) this.#limit(client);
  }

  #follow(client: pg.Client): () => void {
    this.#connecting.set(client, undefined);
    if (this.#graceMillis !== undefined) this.#limit(client);
    return () => {
      clearTimeout(this.#connecting.get(client));
      this.#connecting.delete(client);
    };
  }

  #limit(client: pg.Client): void {
    if (this.#connecting.get(client) !== undefined) return;
    const graceMillis = this.#graceMillis!;
    const timer = setTimeout(() => {
      // As pg-pool's own connectionTimeoutMillis does: the connect's callback then clears
      // pg-pool's timer, and the pool forgets the client.
      // Its error is heard: an 'error' nobody listens to would end the host's process.
      const { stream } = client.connection;
      if (stream.listenerCount('error') === 0) stream.on('error', () => {});
      stream.destroy(new Error(`the exporter was shut down and the server had not completed the connection ${graceMillis} ms later`));
    }, graceMillis);
    // Never what keeps a process alive: the connect's socket does that for as long as it may.
    timer.unref();
    this.#connecting.set(client, timer);
  }
}
