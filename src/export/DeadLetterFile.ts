// `<journalDir>/dead-letters.jsonl`: spans and log records an exporter other than
// PostgresSpanExporter refused for good (deliverIsolatingRefusals.ts), one JSON line each,
// with the reason. Their journal records are committed once they are here, so this file is
// their only copy: it is the owner's alone (0600), and never rotated or deleted by us. A
// line holds the record in the journal's own format (docs/journal-format.md) with its
// resource; `trace_id`, `span_id` and `name` are there for grep. Recovery passes over the
// file (it is no writer's journal). Each record written is said through diag at WARN, one
// that cannot be (the file at its cap, a disk error) at ERROR, with its ids: never silent.
// Written ones are said once a minute at most (the first in full, then how many more).
import { appendFile, chmod, stat } from 'node:fs/promises';
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

export class DeadLetterFile implements DeadLetters {
  readonly path: string;
  readonly acceptedElsewhere: (() => number) | undefined;
  /** Records written to the file; spans and log records refused for good that could not be written (lost, and said so). */
  written = 0;
  lostSpans = 0;
  lostLogs = 0;
  #saidAtMs: number | undefined;
  #unsaid = 0;

  /** `acceptedElsewhere`: see DeadLetters. */
  constructor(journalDir: string, acceptedElsewhere?: () => number) {
    this.path = join(journalDir, DEAD_LETTER_FILE_NAME);
    this.acceptedElsewhere = acceptedElsewhere;
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

  async #append(kind: 'span' | 'log', what: string, reason: string, error: Error, line: string): Promise<void> {
    let failure: string;
    try {
      const size = await stat(this.path).then(
        (s) => s.size,
        (statError: NodeJS.ErrnoException) => {
          if (statError.code === 'ENOENT') return 0;
          throw statError;
        },
      );
      if (size + Buffer.byteLength(line) <= MAX_DEAD_LETTER_FILE_BYTES) {
        await appendFile(this.path, line, { mode: 0o600 }).catch(async (appendError: NodeJS.ErrnoException) => {
          // No journal directory yet ('none' durability makes none): made as the journal makes it.
          if (appendError.code !== 'ENOENT') throw appendError;
          makeOwnerOnlyDirs(dirname(this.path));
          await appendFile(this.path, line, { mode: 0o600 });
        });
        // The mode at creation is reduced by the umask, and must not be wider (ownerOnly.ts).
        if (size === 0) await chmod(this.path, 0o600).catch(() => {});
        this.written += 1;
        this.#say(what, reason);
        return;
      }
      failure = `${this.path} has reached ${MAX_DEAD_LETTER_FILE_BYTES} bytes`;
    } catch (writeError) {
      failure = `writing ${this.path} failed: ${(writeError as Error).message}`;
    }
    if (kind === 'span') this.lostSpans += 1;
    else this.lostLogs += 1;
    safeDiag.error(`otel-blackbox: the exporter refused ${what} for good (${reason}: ${cut(errorText(error))}), and it is lost: ${failure}`);
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
