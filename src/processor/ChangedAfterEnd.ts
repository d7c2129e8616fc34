// The journal takes a span's END in onEnd. A span processor registered after this one that
// writes into the span in its own onEnd (a redaction, say) changes the application's object
// only: a span read back from the journal (behind an outage, a burst, after a crash) is
// exported as it was before, with what the redaction meant to hide (an attack: 2,800 of
// 3,000 spans exported unredacted through a 1.5 s outage). Nothing can journal what
// happens after onEnd returns, so it is said: a few ended spans, then one in CHECK_EVERY,
// are looked at again once end() has returned, and a change is said once.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { safeDiag } from '../safeDiag.js';

/** After the first FIRST_CHECKS ended spans, one in this many is checked. */
const CHECK_EVERY = 1024;
const FIRST_CHECKS = 16;

export class ChangedAfterEnd {
  #untilNext = 1;
  #checks = 0;
  #said = false;

  /** For each ended span the journal took: cheap but for the spans checked. */
  ended(span: ReadableSpan): void {
    if (--this.#untilNext !== 0) return;
    this.#checks += 1;
    this.#untilNext = this.#checks < FIRST_CHECKS ? 1 : CHECK_EVERY;
    if (this.#said) return;
    const before = fingerprint(span);
    if (before === undefined) return;
    // After every processor's onEnd: end() calls them one after another, synchronously.
    queueMicrotask(() => {
      if (this.#said || fingerprint(span) === before) return;
      this.#said = true;
      safeDiag.warn(
        `otel-blackbox: span ${JSON.stringify(span.name)} was changed after JournalSpanProcessor's onEnd (by a span processor registered after it?): ` +
          'the journal holds it as it was, and a span read back from the journal (behind an outage, or after a crash) is exported without the change. ' +
          'Register processors that change spans before JournalSpanProcessor, or make the change in onEnding.',
      );
    });
  }
}

/** What a later processor would change: name, status, attributes, events' attributes. undefined where JSON cannot say it. */
function fingerprint(span: ReadableSpan): string | undefined {
  try {
    return JSON.stringify([span.name, span.status, span.attributes, span.events.map((event) => event.attributes ?? null)]);
  } catch {
    return undefined;
  }
}
