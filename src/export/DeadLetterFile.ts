// `<journalDir>/dead-letters.jsonl`: spans and log records an exporter other than
// PostgresSpanExporter refused for good (deliverIsolatingRefusals.ts), one JSON line each,
// with the reason. Their journal records are committed once they are here, so this file is
// their only copy: it is the owner's alone (0600), and never rotated or deleted by us. A
// line holds the record in the journal's own format (docs/journal-format.md) with its
// resource; `trace_id`, `span_id` and `name` are there for grep. Recovery passes over the
// file (it is no writer's journal). Each line is one write(2) on an O_APPEND descriptor, and
// the appends of one process are made one at a time (the export loop's batches in flight
// and recovery share the file): lines of megabytes never interleave. Written records are
// said through diag at WARN, once a minute at most (the first in full, then how many
// more); one refused past the file's cap is dropped, counted and said at ERROR; a write
// that fails (a disk error) rejects, and the record stays in the journal, tried again.
import { open } from '../untracedFsPromises.js';
import { dirname, join } from 'node:path';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { logRecordPayload } from '../journal/logRecords.js';
import { makeOwnerOnlyDirs } from '../journal/ownerOnly.js';
import { endRecord, recordJson, resourceRecord } from '../journal/spanRecords.js';
import { safeDiag } from '../safeDiag.js';
import type { DeadLetters } from './exportWithLogs.js';
import type { KeyedLogRecord } from './SpansAndLogs.js';

export const DEAD_LETTER_FILE_NAME = 'dead-letters.jsonl';
/** Past this size nothing more is written: a receiver that refuses most of what it gets must not fill the disk. */
export const MAX_DEAD_LETTER_FILE_BYTES = 64 * 1024 * 1024;
/** The reason as the exporter gave it, cut: an HTTP error may carry the receiver's whole response. */
const MAX_REASON_CHARS = 2000;
const SAID_EVERY_MILLIS = 60_000;

/** The appends in progress, by path: one at a time per file in this process. */
const appending = new Map<string, Promise<unknown>>();

export class DeadLetterFile implements DeadLetters {
  readonly path: string;
  /** Records written to the file; spans and log records refused for good that could not be written (lost, and said so). */
  written = 0;
  lostSpans = 0;
  lostLogs = 0;
  #saidAtMs: number | undefined;
  #unsaid = 0;

  constructor(journalDir: string) {
    this.path = join(journalDir, DEAD_LETTER_FILE_NAME);
  }

  async span(span: ReadableSpan, reason: string, error: Error): Promise<void> {
    const context = span.spanContext();
    const what = `span ${String(context.spanId)} of trace ${String(context.traceId)}`;
    await this.#append(
      'span',
      what,
      reason,
      error,
      `{"at":${JSON.stringify(new Date().toISOString())},"kind":"span",${reasonFields(reason, error)},` +
        `"trace_id":${JSON.stringify(String(context.traceId))},"span_id":${JSON.stringify(String(context.spanId))},"name":${JSON.stringify(String(span.name))},` +
        `"resource":${recordJson(resourceRecord(1, span.resource))},"record":${recordJson(endRecord(span, 1))}}\n`,
    );
  }

  async log({ logRecord, writerId, sequence }: KeyedLogRecord, reason: string, error: Error): Promise<void> {
    const { payload } = logRecordPayload(logRecord, sequence, 1);
    await this.#append(
      'log',
      `log record ${sequence} of journal writer ${writerId}`,
      reason,
      error,
      `{"at":${JSON.stringify(new Date().toISOString())},"kind":"log",${reasonFields(reason, error)},` +
        `"writer_id":${JSON.stringify(writerId)},"sequence":${sequence},` +
        `"resource":${recordJson(resourceRecord(1, logRecord.resource))},"record":${recordJson(payload)}}\n`,
    );
  }

  /** Resolves once the line is written or the record dropped past the cap (said); rejects on a write error. */
  #append(kind: 'span' | 'log', what: string, reason: string, error: Error, line: string): Promise<void> {
    const previous = appending.get(this.path) ?? Promise.resolve();
    const done = previous.then(() => this.#write(kind, what, reason, error, line));
    const settled = done.catch(() => {});
    appending.set(this.path, settled);
    void settled.then(() => {
      if (appending.get(this.path) === settled) appending.delete(this.path);
    });
    return done;
  }

  async #write(kind: 'span' | 'log', what: string, reason: string, error: Error, line: string): Promise<void> {
    let bytes = Buffer.from(line);
    const file = await open(this.path, 'a+', 0o600).catch(async (openError: NodeJS.ErrnoException) => {
      // No journal directory yet ('none' durability makes none): made as the journal makes it.
      if (openError.code !== 'ENOENT') throw openError;
      makeOwnerOnlyDirs(dirname(this.path));
      return open(this.path, 'a+', 0o600);
    });
    try {
      const { size } = await file.stat();
      if (size + bytes.length > MAX_DEAD_LETTER_FILE_BYTES) {
        if (kind === 'span') this.lostSpans += 1;
        else this.lostLogs += 1;
        safeDiag.error(
          `otel-blackbox: the exporter refused ${what} for good (${reason}: ${cut(errorText(error))}), and it is dropped: ${this.path} has reached ${MAX_DEAD_LETTER_FILE_BYTES} bytes`,
        );
        return;
      }
      // The mode at creation is reduced by the umask, and must not be wider either (ownerOnly.ts).
      if (size === 0) await file.chmod(0o600).catch(() => {});
      // A write that failed part-way left a torn line: this one starts on a line of its own.
      if (size > 0) {
        const last = Buffer.alloc(1);
        await file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) bytes = Buffer.concat([Buffer.from('\n'), bytes]);
      }
      for (let written = 0; written < bytes.length; ) written += (await file.write(bytes, written)).bytesWritten;
      this.written += 1;
      this.#say(what, reason);
    } finally {
      await file.close();
    }
  }

  #say(what: string, reason: string): void {
    const now = Date.now();
    if (this.#saidAtMs !== undefined && now - this.#saidAtMs < SAID_EVERY_MILLIS) {
      this.#unsaid += 1;
      return;
    }
    const more = this.#unsaid > 0 ? ` (and ${this.#unsaid} more since the last line)` : '';
    this.#saidAtMs = now;
    this.#unsaid = 0;
    safeDiag.warn(`otel-blackbox: the exporter refused ${what} for good (${reason}); it is in ${this.path} with the reason${more}, and the records behind it went on`);
  }
}

/** An error's message, with what an OTLP exporter's error holds of the receiver's answer (OTLPExporterError.data). */
function errorText(error: Error): string {
  const data = (error as { data?: unknown }).data;
  const message = String(error?.message ?? error);
  return typeof data === 'string' && data !== '' ? `${message}: ${data}` : message;
}

function reasonFields(reason: string, error: Error): string {
  return `"reason":${JSON.stringify(reason)},"error":${JSON.stringify(cut(errorText(error)))}`;
}

function cut(text: string): string {
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}
