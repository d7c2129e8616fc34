// Spans that could be neither journaled nor queued are never lost silently: counted,
// reported through diag once per episode, and written to the database as a marker span.
import { safeDiag } from '../safeDiag.js';

export interface DropEpisode {
  count: number;
  firstMs: number;
  lastMs: number;
  reasons: string[];
}

export class DropCounter {
  private episode: DropEpisode | undefined;
  /** Every span dropped since the processor started. */
  total = 0;
  /** The same, by reason (for the processor's own metrics). */
  readonly byReason: Record<string, number> = {};

  add(reason: string): void {
    this.total += 1;
    this.byReason[reason] = (this.byReason[reason] ?? 0) + 1;
    const now = Date.now();
    if (!this.episode) {
      this.episode = { count: 0, firstMs: now, lastMs: now, reasons: [] };
      safeDiag.error(`otel-blackbox: dropping spans (${reason}); the count will be written to the database as an overflow marker`);
    }
    this.episode.count += 1;
    this.episode.lastMs = now;
    if (!this.episode.reasons.includes(reason)) this.episode.reasons.push(reason);
  }

  /** Hands the current episode to the exporter; `restore` it if the export fails. */
  take(): DropEpisode | undefined {
    const episode = this.episode;
    this.episode = undefined;
    return episode;
  }

  restore(episode: DropEpisode): void {
    if (!this.episode) {
      this.episode = episode;
      return;
    }
    this.episode.count += episode.count;
    this.episode.firstMs = Math.min(this.episode.firstMs, episode.firstMs);
    for (const reason of episode.reasons) if (!this.episode.reasons.includes(reason)) this.episode.reasons.push(reason);
  }
}
