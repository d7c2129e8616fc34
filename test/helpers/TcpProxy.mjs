// A TCP proxy between the exporter and PostgreSQL that the test steers: stop listening
// (connections refused), listen again, cut every open connection, or cut a connection as
// soon as the client sends a chosen statement (mid-transaction faults).
import { createServer, connect } from 'node:net';

// Plain JavaScript so the benchmarks can use it too; types in TcpProxy.d.mts.
export class TcpProxy {
  #target;
  #server;
  #sockets = new Set();
  /** When set, a client packet containing this text closes that connection before it is forwarded. */
  cutWhenClientSends = undefined;
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
      if (this.cutWhenClientSends && chunk.includes(this.cutWhenClientSends)) {
        this.cuts += 1;
        close();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }
}
