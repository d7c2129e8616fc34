/** A steerable TCP proxy between a client and PostgreSQL (see TcpProxy.mjs). */
export declare class TcpProxy {
  readonly port: number;
  /** Client packets wait this long before they are forwarded. */
  delayMillis: number;
  cuts: number;
  /**
   * The next `times` client packets containing `text` cut their connection: before the
   * packet is forwarded, or with `afterForwarding` once PostgreSQL has it (its reply is lost).
   */
  cutOn(text: string, options?: { times?: number; afterForwarding?: boolean }): void;
  /** A proxy on a free port, not yet listening: connections to it are refused. */
  static create(targetUrl: string): Promise<TcpProxy>;
  /** `targetUrl` with its host and port replaced by the proxy's. */
  urlFor(targetUrl: string): string;
  listen(): Promise<void>;
  /** Stops listening and cuts open connections: the database is "down". */
  refuse(): Promise<void>;
  cutAll(): void;
}
