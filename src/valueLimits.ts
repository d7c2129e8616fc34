// How far the journal and the exporter go into a value an application handed over (an
// attribute, a log body: anything, in JavaScript), and what they store where they stop.
// One set of rules on both sides, so a value reads back from the journal as it was stored.

/** Levels of nesting kept, the attribute map counting as one; deeper values become TOO_DEEP (stack safety). */
export const MAX_DEPTH = 32;
/**
 * Values copied of one map (or value), nested ones included; the rest become TOO_LARGE. A
 * map that holds one object twice is not a cycle, and each copy is whole: 30 levels of
 * `{ l: x, r: x }` are 2^31 values, and copying them on the application's thread doubled
 * in time with each level (1 s at 20 levels).
 */
export const MAX_VALUES = 100_000;

/** Stored in place of a value that could not be read (a throwing getter or toJSON). */
export const UNSERIALIZABLE = '[Unserializable]';
export const CIRCULAR = '[Circular]';
export const TOO_DEEP = '[Too deep]';
export const TOO_LARGE = '[Too large]';
