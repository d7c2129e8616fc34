// Columns with a handful of possible values travel as their 1-based position in these
// lists and become text again inside the statement (`(ARRAY[...])[position]`): fewer bytes
// per span on the wire and fewer strings to encode.

/** Indexed by SpanKind: INTERNAL = 0 ... CONSUMER = 4, fixed by the OpenTelemetry API. */
export const SPAN_KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
/** Indexed by SpanStatusCode: UNSET = 0, OK = 1, ERROR = 2. */
export const STATUS_CODES = ['UNSET', 'OK', 'ERROR'] as const;
/** In precedence order: a state's position is its rank (statePrecedence.ts). */
export const SPAN_STATES = ['started', 'crashed', 'ended'] as const;

/** `{ value: position }`, 1-based like SQL arrays. */
export function positions<T extends string>(list: readonly T[]): Readonly<Record<T, number>> {
  return Object.fromEntries(list.map((value, index) => [value, index + 1])) as Record<T, number>;
}

/** The SQL expression that turns a position back into its text. */
export function decodeSql(list: readonly string[], position: string): string {
  return `(ARRAY[${list.map((value) => `'${value}'`).join(', ')}])[${position}]`;
}
