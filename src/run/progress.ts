/** The progress callback of a run, rate-limited: every verb reports the same way. */

/** Progress is handed to the caller at most this often, plus once at the end. */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Calls `onProgress` with a copy of `progress` (its `elapsedMs` filled in) at most every 100 ms,
 * and always when forced (the last report of a run).
 */
export class ProgressTicker<P extends { elapsedMs: number }> {
  private lastMs = 0;

  constructor(
    private readonly progress: P,
    private readonly onProgress: ((p: P) => void) | undefined,
    private readonly elapsedMs: () => number,
  ) {}

  tick(force = false): void {
    const now = performance.now();
    if (!this.onProgress || (!force && now - this.lastMs < PROGRESS_INTERVAL_MS)) return;
    this.lastMs = now;
    this.onProgress({ ...this.progress, elapsedMs: this.elapsedMs() });
  }
}
