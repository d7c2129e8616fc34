// A TCP proxy between the exporter and PostgreSQL that the test steers: stop listening
// (connections refused), listen again, cut every open connection, or cut a connection as
// soon as the client sends a chosen statement (mid-transaction faults).
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

export class TcpProxy {
  readonly port: number;
  private readonly target: { host: string; port: number };
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** When set, a client packet containing this text closes that connection before it is forwarded. */
  cutWhenClientSends: string | undefined;
  cuts = 0;

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.target = target;
  }

  /** A proxy on a free port, not yet listening: connections to it are refused. */
  static async create(targetUrl: string): Promise<TcpProxy> {
    const url = new URL(targetUrl);
    const probe = createServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as { port: number }).port)));
    await new Promise((resolve) => probe.close(resolve));
    return new TcpProxy(port, { host: url.hostname, port: Number(url.port || 5432) });
  }

  /** `targetUrl` with its host and port replaced by the proxy's. */
  urlFor(targetUrl: string): string {
    const url = new URL(targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async listen(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => this.pipe(client));
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  /** Stops listening and cuts open connections: the database is "down". */
  async refuse(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.cutAll();
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private pipe(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      if (this.cutWhenClientSends && chunk.includes(this.cutWhenClientSends)) {
        this.cuts += 1;
        close();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }
}
