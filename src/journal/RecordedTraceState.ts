// A span's trace state read back from the journal. It serializes to the text the span had,
// which is what the live span's row stores (traceStateText.ts): reparsed by the SDK's
// TraceState, a hand-made trace state came back rewritten ('a=1 , b=2' as 'a=1,b=2') or
// as nothing (text it would not parse, over 512 characters), so a span stored after a
// crash differed from the same span stored live (an attack). Parsed only to answer
// get, set and unset, as a propagator of the SDK would.
import type { TraceState as ApiTraceState } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';

export class RecordedTraceState implements ApiTraceState {
  readonly #text: string;
  #parsed: TraceState | undefined;

  constructor(text: string) {
    this.#text = text;
  }

  serialize(): string {
    return this.#text;
  }

  get(key: string): string | undefined {
    return this.#parse().get(key);
  }

  set(key: string, value: string): ApiTraceState {
    return this.#parse().set(key, value);
  }

  unset(key: string): ApiTraceState {
    return this.#parse().unset(key);
  }

  #parse(): TraceState {
    return (this.#parsed ??= new TraceState(this.#text));
  }
}
