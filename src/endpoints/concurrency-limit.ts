/**
 * How many requests one endpoint gets at once while it throttles: additive increase,
 * multiplicative decrease (TCP congestion control's rule, as rclone's lib/pacer applies it to
 * cloud APIs). A throttling answer (SlowDown, 429) halves the limit, floor 1; each window of
 * successes (as many as the limit, at most INCREASE_EVERY_MAX) adds one, up to the endpoint's
 * configured maximum. Pure: time is passed in.
 *
 * A storm answers every request in flight at once: only a throttle of a request sent after the
 * last decrease lowers the limit again, so one window of N refusals halves once, not N times.
 */

/** Successes that raise the limit by one are min(limit, this): recovery from 1 to 64 takes ~600. */
const INCREASE_EVERY_MAX = 10;

export class AimdLimit {
  private limitNow: number;
  private lastDecreaseMs = Number.NEGATIVE_INFINITY;
  private successes = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`limit must be ≥ 1, got ${max}`);
    this.limitNow = max;
  }

  /** Requests this endpoint may have in flight now. */
  get limit(): number { return this.limitNow; }

  /** A request sent at `sentAtMs` was throttled at `nowMs`. */
  onThrottle(sentAtMs: number, nowMs: number): void {
    this.successes = 0;
    if (sentAtMs < this.lastDecreaseMs) return; // sent under the old limit: that window already counted
    this.limitNow = Math.max(1, Math.floor(this.limitNow / 2));
    this.lastDecreaseMs = nowMs;
  }

  onSuccess(): void {
    if (this.limitNow >= this.max) return;
    if (++this.successes >= Math.min(this.limitNow, INCREASE_EVERY_MAX)) {
      this.limitNow++;
      this.successes = 0;
    }
  }
}
