// Spans that could be neither journaled nor queued, and log records that could not be
// journaled, are never lost silently: counted, reported through diag (once a minute at
// most while they go on), and written to the database as marker spans.
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
  /** Its place among the processor's episodes, from 1: what a flush or a stop waits for (oldestUnrecorded). */
  readonly seq: number;
}

/**
 * The diag lines of drops that go on (an overload) come once a minute at most. Each batch
 * carries the count so far as a marker, as before: holding the marker back for quiet lost
 * it to a flush-then-exit, and up to a minute of counts to a SIGKILL (a review). But each
 * marker began a new episode, and said so: about ten ERROR and WARN lines a second (an
 * operator review).
 */
const SAY_EVERY_MILLIS = 60_000;

export class DropCounter {
  private episode: DropEpisode | undefined;
  /**
   * When "dropping spans" and "dropping log records" were last said: a kind is said at its
   * first drop in an episode, unless it was said within a minute. One line per episode named
   * only the kind dropped first: a soak's 50,155 spans dropped after its log records were
   * said only at WARN, a minute later, once their marker was committed.
   */
  private readonly lastAnnouncedMs = new Map<string, number>();
  /** What markers recorded since their line was last said (recorded()), and when that was. */
  private recordedUnsaid: { spans: number; logRecords: number } = { spans: 0, logRecords: 0 };
  private lastRecordedSaidMs: number | undefined;
  /** Says what recorded() held back, a minute after the last line: without it, a second episode was never said. */
  private sayRecordedLater: NodeJS.Timeout | undefined;
  /** Episodes handed back, each kept whole (under its own marker ids), oldest first. */
  private readonly restored: DropEpisode[] = [];
  /** Episodes taken and neither recorded nor handed back yet: their batches are in flight. */
  private readonly taken = new Set<DropEpisode>();
  /** Episodes begun since the processor started: the seq of the latest. */
  episodesBegun = 0;
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

  /** The episode under way, begun at its first drop; each kind said at its first drop in it. */
  private current(reason: string, what: 'spans' | 'log records'): DropEpisode {
    const now = Date.now();
    if (!this.episode) {
      const [traceId, spanId] = [randomBytes(16).toString('hex'), randomBytes(8).toString('hex')];
      this.episode = { count: 0, logRecords: 0, firstMs: now, lastMs: now, reasons: [], traceId, spanId, seq: ++this.episodesBegun };
    }
    const firstOfItsKind = (what === 'spans' ? this.episode.count : this.episode.logRecords) === 0;
    const lastSaid = this.lastAnnouncedMs.get(what);
    if (firstOfItsKind && (lastSaid === undefined || now - lastSaid >= SAY_EVERY_MILLIS)) {
      this.lastAnnouncedMs.set(what, now);
      safeDiag.error(
        `otel-blackbox: dropping ${what} (${reason}); the count will be written to the database as an overflow marker (said once a minute at most). ` +
          'Nothing could hold them: see "dropping spans" in the README\'s Troubleshooting.',
      );
    }
    this.episode.lastMs = now;
    if (!this.episode.reasons.includes(reason)) this.episode.reasons.push(reason);
    return this.episode;
  }

  /** Hands an episode to the exporter, those handed back first; `restore` it if the export fails. */
  take(): DropEpisode | undefined {
    const episode = this.restored.shift() ?? this.episode;
    if (episode === this.episode) this.episode = undefined;
    if (episode) this.taken.add(episode);
    return episode;
  }

  /**
   * The seq of the oldest episode whose marker is not committed (waiting, or in a batch in
   * flight); undefined when every one is. A flush or a stop waits for the episodes begun
   * before it: with nothing else to export, the marker waited for a batch to carry it, and
   * shutdown then said it could not be exported (a review).
   */
  oldestUnrecorded(): number | undefined {
    let oldest = this.oldestWaiting();
    for (const episode of this.taken) oldest = Math.min(oldest ?? episode.seq, episode.seq);
    return oldest;
  }

  /** The seq of the oldest episode not taken yet (waiting for a batch); undefined when none waits. */
  oldestWaiting(): number | undefined {
    return this.restored[0]?.seq ?? this.episode?.seq;
  }

  /**
   * An episode's marker was committed: said at once after a quiet minute, else added to
   * what the line a minute after the last one says (a timer, unref'd; and shutdown says
   * what is left: sayRecorded). Held for the next episode instead, the count of the last
   * one was never said (an accounting review: 360 dropped, 80 said).
   */
  recorded(episode: DropEpisode): void {
    this.taken.delete(episode);
    this.recordedUnsaid.spans += episode.count;
    this.recordedUnsaid.logRecords += episode.logRecords;
    const since = this.lastRecordedSaidMs === undefined ? Infinity : Date.now() - this.lastRecordedSaidMs;
    if (since >= SAY_EVERY_MILLIS) return this.sayRecorded();
    this.sayRecordedLater ??= setTimeout(() => this.sayRecorded(), SAY_EVERY_MILLIS - since);
    this.sayRecordedLater.unref?.();
  }

  /** Says what markers recorded since the last line, if anything. */
  sayRecorded(): void {
    clearTimeout(this.sayRecordedLater);
    this.sayRecordedLater = undefined;
    const { spans, logRecords } = this.recordedUnsaid;
    if (spans === 0 && logRecords === 0) return;
    this.lastRecordedSaidMs = Date.now();
    this.recordedUnsaid = { spans: 0, logRecords: 0 };
    safeDiag.warn(`otel-blackbox: ${droppedInEpisode({ count: spans, logRecords })} dropped, recorded as overflow markers (said once a minute at most)`);
  }

  /** Not merged into the current episode: its marker may have been committed under its ids already. */
  restore(episode: DropEpisode): void {
    this.taken.delete(episode);
    this.restored.push(episode);
    this.restored.sort((a, b) => a.seq - b.seq);
  }
}

/** "3 spans", "2 log records", "3 spans and 2 log records": what an episode dropped. */
export function droppedInEpisode(episode: Pick<DropEpisode, 'count' | 'logRecords'>): string {
  const parts = [episode.count > 0 || episode.logRecords === 0 ? `${episode.count} spans` : undefined, episode.logRecords > 0 ? `${episode.logRecords} log records` : undefined];
  return parts.filter((part) => part !== undefined).join(' and ');
}
