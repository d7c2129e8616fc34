// Spans that could be neither journaled nor queued, and log records that could not be
// journaled, are never lost silently: counted, reported through diag once per episode
// (drops that go on: once, then a line a minute with the count), and written to the
// database as a marker span, one a minute at most.
import { randomBytes } from 'node:crypto';
import { safeDiag } from '../safeDiag.js';

export interface DropEpisode {
  /** Spans dropped. */
  count: number;
  logRecords: number;
  firstMs: number;
  lastMs: number;
  reasons: string[];
  /**
   * The ids of its marker span, fixed when the episode begins: an episode handed back
   * after its export was abandoned at the shutdown deadline may have been committed all
   * the same, and written again under the same ids it is one row, not a second count.
   */
  readonly traceId: string;
  readonly spanId: string;
}

/** A marker is handed out once its episode has been quiet this long... */
const MARKER_QUIET_MILLIS = 1000;
/**
 * ...or once it is this old. Under drops that go on (an overload), that is one marker row
 * and one line a minute: an episode ended at every batch, and said so, about ten lines a
 * second and a marker row per batch (an operator review).
 */
const MARKER_MAX_AGE_MILLIS = 60_000;

export class DropCounter {
  private episode: DropEpisode | undefined;
  /** When the last episode was handed out: one that begins within a minute of it is not announced again (its marker's line says its count). */
  private lastTakenMs: number | undefined;
  /** Episodes handed back, each kept whole (under its own marker ids), oldest first. */
  private readonly restored: DropEpisode[] = [];
  /** Every span dropped since the processor started. */
  total = 0;
  /** The same, by reason (for the processor's own metrics). */
  readonly byReason: Record<string, number> = {};
  /** Every log record dropped since the processor started, and by reason. */
  logRecordsTotal = 0;
  readonly logRecordsByReason: Record<string, number> = {};

  add(reason: string): void {
    this.countSpan(reason);
    this.current(reason, 'spans').count += 1;
  }

  /** A span dropped when no overflow marker can be written any more (after shutdown): counted in stats only. */
  countSpan(reason: string): void {
    this.total += 1;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
  }

  addLogRecord(reason: string): void {
    this.countLogRecord(reason);
    this.current(reason, 'log records').logRecords += 1;
  }

  /** A log record dropped when no overflow marker can be written any more (after shutdown): counted in stats only. */
  countLogRecord(reason: string): void {
    this.logRecordsTotal += 1;
    this.logRecordsByReason[reason] = (this.logRecordsByReason[reason] ?? 0) + 1;
  }

  /** The episode under way, begun (and said) at its first drop. */
  private current(reason: string, what: string): DropEpisode {
    const now = Date.now();
    if (!this.episode) {
      const [traceId, spanId] = [randomBytes(16).toString('hex'), randomBytes(8).toString('hex')];
      this.episode = { count: 0, logRecords: 0, firstMs: now, lastMs: now, reasons: [], traceId, spanId };
      if (this.lastTakenMs === undefined || now - this.lastTakenMs >= MARKER_MAX_AGE_MILLIS) {
        safeDiag.error(
          `otel-blackbox: dropping ${what} (${reason}); the count will be written to the database as an overflow marker, a minute's at most in each. ` +
            'Nothing could hold them: see "dropping spans" in the README\'s Troubleshooting.',
        );
      }
    }
    this.episode.lastMs = now;
    if (!this.episode.reasons.includes(reason)) this.episode.reasons.push(reason);
    return this.episode;
  }

  /**
   * Hands an episode to the exporter, those handed back first; `restore` it if the export
   * fails. The one under way only once it is quiet or old (MARKER_QUIET_MILLIS,
   * MARKER_MAX_AGE_MILLIS), or when `force`d (a flush, a stop).
   */
  take(force = false): DropEpisode | undefined {
    const restored = this.restored.shift();
    if (restored) return restored;
    const episode = this.episode;
    if (episode === undefined) return undefined;
    const now = Date.now();
    if (!force && now - episode.lastMs < MARKER_QUIET_MILLIS && now - episode.firstMs < MARKER_MAX_AGE_MILLIS) return undefined;
    this.episode = undefined;
    this.lastTakenMs = now;
    return episode;
  }

  /** Not merged into the current episode: its marker may have been committed under its ids already. */
  restore(episode: DropEpisode): void {
    this.restored.push(episode);
  }
}

/** "3 spans", "2 log records", "3 spans and 2 log records": what an episode dropped. */
export function droppedInEpisode(episode: DropEpisode): string {
  const parts = [episode.count > 0 || episode.logRecords === 0 ? `${episode.count} spans` : undefined, episode.logRecords > 0 ? `${episode.logRecords} log records` : undefined];
  return parts.filter((part) => part !== undefined).join(' and ');
}
