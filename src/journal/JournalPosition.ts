// A place in one writer's journal: a segment number and a byte offset in it. Commit
// watermarks, read positions and the recent-ENDs window all compare positions this way.
export interface JournalPosition {
  segment: number;
  offset: number;
}

export function isAtOrAfter(a: JournalPosition, b: JournalPosition): boolean {
  return a.segment > b.segment || (a.segment === b.segment && a.offset >= b.offset);
}

/** The later of two positions; undefined stands for "none yet", before every position. */
export function laterOf(a: JournalPosition | undefined, b: JournalPosition | undefined): JournalPosition | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return isAtOrAfter(a, b) ? a : b;
}
