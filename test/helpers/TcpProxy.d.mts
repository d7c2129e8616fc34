/** A steerable TCP proxy between a client and PostgreSQL (see TcpProxy.mjs). */
export declare class TcpProxy {
  readonly port: number;
  /** When set, a client packet containing this text closes that connection before it is forwarded. */
  cutWhenClientSends: string | undefined;
  cuts: number;
  /** A proxy on a free port, not yet listening: connections to it are refused. */
  static create(targetUrl: string): Promise<TcpProxy>;
  /** `targetUrl` with its host and port replaced by the proxy's. */
  urlFor(targetUrl: string): string;
  listen(): Promise<void>;
  /** Stops listening and cuts open connections: the database is "down". */
  refuse(): Promise<void>;
  cutAll(): void;
}
