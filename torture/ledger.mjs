// The workload's own record of what it started and ended, written with writeSync right
// after each startSpan() and span.end() and independent of the journal under test. The
// torture run holds PostgreSQL against it after recovery.
//
// Lines (one JSON object each, short keys: a child writes thousands of them a second):
//   {"e":"s","t":traceId,"s":spanId,"p":parentSpanId|null,"u":1?}  started ("u": not sampled)
//   {"e":"e","t":traceId,"s":spanId,"n":eventCount,"l":1?}         ended, with its span events ("l": after the
//                                                                 processor had shut down, mode 'shutdown' only)
//   {"e":"x"}                                                     the workload began a clean shutdown (mode 'shutdown')
//
// A span is its trace id and its span id: a span id is unique within its trace only.
import { openSync, readFileSync, writeSync } from 'node:fs';

export class LedgerWriter {
  #fd;

  constructor(path) {
    this.#fd = openSync(path, 'a');
  }

  started(span, parent) {
    const { traceId, spanId, traceFlags } = span.spanContext();
    const sampled = (traceFlags & 1) === 1;
    const line = { e: 's', t: traceId, s: spanId, p: parent?.spanContext().spanId ?? null };
    if (!sampled) line.u = 1;
    this.#write(line);
  }

  /** `late`: the span processor had shut down when span.end() was called, and could not record it. */
  ended(span, eventCount, late = false) {
    const { traceId, spanId } = span.spanContext();
    const line = { e: 'e', t: traceId, s: spanId, n: eventCount };
    if (late) line.l = 1;
    this.#write(line);
  }

  /** Before provider.shutdown(): an end written after this may come too late to be recorded. */
  shutdownStarted() {
    this.#write({ e: 'x' });
  }

  #write(line) {
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
    // A write to a regular file is not cut short in practice, but loop as sonic-boom does.
    for (let at = 0; at < bytes.length; ) at += writeSync(this.#fd, bytes, at);
  }
}

/**
 * What a ledger says. A line cut off by the kill (there can only be the last one) is
 * counted in `tornLines`, not thrown.
 */
export function readLedger(path) {
  /** @type {Map<string, { traceId: string, spanId: string, parent: string | null, sampled: boolean }>} spanKey() → start */
  const starts = new Map();
  /** @type {Map<string, number>} spanKey() → number of span events it ended with */
  const ends = new Map();
  /** @type {Set<string>} spanKey() of the spans that ended after the span processor had shut down */
  const endedLate = new Set();
  let shutdownStarted = false;
  let tornLines = 0;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      tornLines += 1;
      continue;
    }
    if (entry.e === 's') starts.set(spanKey(entry.t, entry.s), { traceId: entry.t, spanId: entry.s, parent: entry.p, sampled: entry.u !== 1 });
    else if (entry.e === 'e') {
      ends.set(spanKey(entry.t, entry.s), entry.n);
      if (entry.l === 1) endedLate.add(spanKey(entry.t, entry.s));
    } else if (entry.e === 'x') shutdownStarted = true;
  }
  return { starts, ends, endedLate, shutdownStarted, tornLines };
}

/** How the ledger and the checker name a span: `<trace id>/<span id>`. */
export function spanKey(traceId, spanId) {
  return `${traceId}/${spanId}`;
}
