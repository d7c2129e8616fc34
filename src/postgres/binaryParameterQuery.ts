// A statement whose parameters are all binary arrays (binaryArray.ts), sent with a Bind
// message written here rather than by node-postgres. pg serialises a Bind into a writer
// that starts at 256 bytes, grows by half again each time a parameter does not fit
// (copying what it holds), and is replaced by a fresh 256-byte one after every message:
// for a 1024-span batch, ~1.4 MB of short-lived buffers on top of the ~0.6 MB message,
// every batch (bench/overload.mjs, 400,000 spans: 536 MiB allocated in
// pg-protocol's Writer.ensure, the largest source of buffers in the process). Here the
// message is the parameters themselves, with a few bytes of framing written beside them
// and handed to the socket in one corked write.
//
// Several statements go in one round trip: Parse, Bind and Execute for each, then one
// Sync. The server runs them in order and, at the first error, skips the rest up to the
// Sync, so they behave as one (the caller's transaction decides what is kept).
//
// It is a node-postgres Submittable (the interface pg-cursor and pg-query-stream use):
// client.query(submittable) queues it, calls submit(connection) when the connection is
// free, and routes the server's replies to its handle* methods.
import type pg from 'pg';

// Frontend message codes and the statement's fixed framing (PostgreSQL protocol, "Bind").
const BIND = 0x42; // 'B'
const BINARY_FORMAT = 1;
const TEXT_FORMAT = 0;
// code, int32 length, portal "" and statement "" (one NUL each), int16 count of formats.
const HEAD_BYTES = 1 + 4 + 1 + 1 + 2;

export interface BinaryQuery {
  text: string;
  /** Every parameter, in the binary format. */
  values: readonly Buffer[];
}

/**
 * Runs the statements in order, each with its binary parameters, in one round trip;
 * resolves once the server is ready again, rejects with the first error.
 */
export function queryBinary(client: pg.ClientBase, statements: readonly BinaryQuery[]): Promise<void> {
  const query = new BinaryParameterQuery(statements);
  client.query(query);
  return query.done;
}

/** The Bind message for `values`, as the chunks written to the socket in order. */
export function bindMessage(values: readonly Buffer[]): Buffer[] {
  const count = values.length;
  // Everything before the first parameter: head, one format code per parameter, the
  // parameter count; then each parameter's int32 length before its bytes.
  const head = Buffer.allocUnsafe(HEAD_BYTES + 2 * count + 2 + 4 * count + 4);
  let length = head.length - 1;
  for (const value of values) length += value.length;
  let offset = head.writeUInt8(BIND, 0);
  offset = head.writeInt32BE(length, offset);
  offset = head.writeUInt8(0, offset); // unnamed portal
  offset = head.writeUInt8(0, offset); // unnamed statement
  offset = head.writeInt16BE(count, offset);
  for (let i = 0; i < count; i++) offset = head.writeInt16BE(BINARY_FORMAT, offset);
  offset = head.writeInt16BE(count, offset);
  const lengths = offset;
  const tailAt = lengths + 4 * count;
  head.writeInt16BE(1, tailAt); // one result format code, for every column
  head.writeInt16BE(TEXT_FORMAT, tailAt + 2);
  const chunks: Buffer[] = [head.subarray(0, lengths)];
  values.forEach((value, i) => {
    const at = head.writeInt32BE(value.length, lengths + 4 * i);
    chunks.push(head.subarray(at - 4, at), value);
  });
  chunks.push(head.subarray(tailAt, tailAt + 4));
  return chunks;
}

class BinaryParameterQuery implements pg.Submittable {
  readonly done: Promise<void>;
  #statements: readonly BinaryQuery[] | undefined;
  #resolve!: () => void;
  #reject!: (error: Error) => void;
  #settled = false;

  constructor(statements: readonly BinaryQuery[]) {
    this.#statements = statements;
    this.done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** pg's Submittable: write Parse, Bind, Execute per statement, then Sync; an Error returned goes to handleError. */
  submit(connection: pg.Connection): Error | null {
    const statements = this.#statements;
    this.#statements = undefined; // the socket holds the chunks until they are written
    // pg's native bindings (pg.native) hand over no stream: they are not supported.
    const stream = (connection as Partial<pg.Connection> | undefined)?.stream;
    if (stream === undefined) return new Error('PostgresSpanExporter needs node-postgres\' JavaScript client (not pg.native)');
    if (statements === undefined || !stream.writable) return new Error('the connection cannot be written to');
    stream.cork();
    try {
      for (const { text, values } of statements) {
        connection.parse({ text, name: '', types: [] }, false);
        for (const chunk of bindMessage(values)) stream.write(chunk);
        connection.execute({ portal: '' }, false); // every row
      }
      connection.sync();
    } finally {
      stream.uncork();
    }
    return null;
  }

  handleError(error: Error): void {
    this.#settle(error);
  }

  handleReadyForQuery(): void {
    this.#settle(undefined);
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  // Never for our statements; were it sent, refusing it keeps the connection usable.
  handleCopyInResponse(connection: pg.Connection & { sendCopyFail?: (message: string) => void }): void {
    connection.sendCopyFail?.('not a COPY');
  }

  #settle(error: Error | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    if (error === undefined) this.#resolve();
    else this.#reject(error);
  }
}
