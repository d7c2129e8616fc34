// A TCP proxy between the exporter and PostgreSQL that the test steers: stop listening
// (connections refused), listen again, cut every open connection, delay traffic (a slow
// database), or cut a connection when the client sends a chosen statement — before it
// reaches PostgreSQL, or just after (a COMMIT that is applied but whose reply is lost).
import { createServer, connect } from 'node:net';

// Plain JavaScript so the benchmarks can use it too; types in TcpProxy.d.mts.
export class TcpProxy {
  #target;
  #server;
  #sockets = new Set();
  #faults = [];
  /** Client packets wait this long before they are forwarded. */
  delayMillis = 0;
  cuts = 0;

  constructor(port, target) {
    this.port = port;
    this.#target = target;
  }

  /** A proxy on a free port, not yet listening: connections to it are refused. */
  static async create(targetUrl) {
    const url = new URL(targetUrl);
    const probe = createServer();
    const port = await new Promise((resolve) => probe.listen(0, '127.0.0.1', () => resolve(probe.address().port)));
    await new Promise((resolve) => probe.close(resolve));
    return new TcpProxy(port, { host: url.hostname, port: Number(url.port || 5432) });
  }

  /** `targetUrl` with its host and port replaced by the proxy's. */
  urlFor(targetUrl) {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async listen() {
    if (this.#server) return;
    const server = createServer((client) => this.#pipe(client));
    await new Promise((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.#server = server;
  }

  /** Stops listening and cuts open connections: the database is "down". */
  async refuse() {
    const server = this.#server;
    this.#server = undefined;
    this.cutAll();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  /**
   * The next `times` client packets containing `text` cut their connection: before the
   * packet is forwarded, or with `afterForwarding` once PostgreSQL has it (its reply is lost).
   */
  cutOn(text, { times = 1, afterForwarding = false } = {}) {
    this.#faults.push({ text, remaining: times, afterForwarding });
  }

  cutAll() {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  #pipe(client) {
    const upstream = connect(this.#target.port, this.#target.host);
    this.#sockets.add(client);
    this.#sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('data', (chunk) => {
      const fault = this.#faults.find((f) => f.remaining > 0 && chunk.includes(f.text));
      if (fault) {
        fault.remaining -= 1;
        this.cuts += 1;
        if (fault.afterForwarding) {
          // PostgreSQL receives the statement, then end-of-stream; the client never hears back.
          client.destroy();
          upstream.end(chunk);
        } else {
          close();
        }
        return;
      }
      if (this.delayMillis > 0) setTimeout(() => upstream.write(chunk), this.delayMillis);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }
}
