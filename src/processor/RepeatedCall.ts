// A processor registered twice on one provider (`spanProcessors: [p, p]`, `addSpanProcessor`
// called twice; two JournalLogRecordProcessors of one span processor on one LoggerProvider)
// is handed each span, and each log record, twice in a row: the SDK calls its processors in
// turn, synchronously, for one span before the next. Nothing else does: `end()` twice is
// refused by the span, and every `emit()` makes a new record. Journaled twice, each span
// counted twice in `spansExported`, and each log line was stored twice under two sequence
// numbers. The value is kept until the end of the turn only: a span held past it would
// stay alive, and one the application dropped without ending it would never be collected
// (LongOpenSpans).
export class RepeatedCall {
  #last: object | undefined = undefined;
  #clearing = false;
  readonly #clear = (): void => {
    this.#last = undefined;
    this.#clearing = false;
  };

  /** Whether `value` is the one given last, in this turn; it is the last one given after this. */
  repeats(value: object): boolean {
    if (value === this.#last) return true;
    this.#last = value;
    if (!this.#clearing) {
      this.#clearing = true;
      queueMicrotask(this.#clear);
    }
    return false;
  }
}
