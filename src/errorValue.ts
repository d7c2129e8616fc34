// An Error handed over as a value (a log record's body, an attribute, inside a map). Its
// message, stack and cause are own but not enumerable and its name is inherited, so
// JSON.stringify, and a copy of its enumerable keys, stored `{}` (review repro 04). The
// journal's careful copy (journal/attributeValues.ts) and the exporter's
// (postgres/sanitize.ts) both store these keys of it instead, read as any other value's,
// so a body reads back from the journal as it was stored live.
import { types } from 'node:util';

/** An Error of this realm or another (a vm context, a worker's object), its subclasses too. */
export function isError(value: object): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** Those an error holds of these, after name, message and stack: an AggregateError's errors too. */
const OWN_KEYS = ['cause', 'errors'];

/**
 * The keys stored of `error`: `name`, `message`, `stack`, its `cause` and `errors` when
 * it has them, then its own enumerable keys (a system error's `code`, `errno`, `syscall`,
 * `path`). A key whose value is undefined (a stack someone deleted) is left out by the
 * caller. May throw (a Proxy): the callers' copies contain that as for any object.
 */
export function errorKeys(error: Error): string[] {
  const keys = ['name', 'message', 'stack'];
  for (const key of OWN_KEYS) if (Object.hasOwn(error, key)) keys.push(key);
  for (const key of Object.keys(error)) if (!keys.includes(key)) keys.push(key);
  return keys;
}
