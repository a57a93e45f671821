/**
 * The token bucket behind `--bwlimit` (bytes) and `--tpslimit` (requests), run-wide and per
 * endpoint. One implementation for both: `reserve` is pure arithmetic over an injected clock
 * (unit-tested with fast-check in test/unit/token-bucket.test.ts); `take` waits for a
 * reservation in a FIFO queue, so takers are served in the order they asked.
 *
 * Reservation, not polling: a take that cannot be served now books its tokens at once (the
 * bucket goes into debt) and learns the exact time they are its own. Grant times never go
 * backwards, so the queue is in grant order, and a late timer loses no tokens (the debt is
 * paid by the clock, not by the timer). Bytes granted by time t never exceed
 * burst + ratePerSecond × t. A cancelled wait does not give its tokens back: at most one chunk
 * (≤ 64 KiB, ./limited-store.ts) per aborted request, and the invariant stays trivially true.
 */
import { clampTimerMs } from '../config/units.js';
import type { StopSignal } from './stop-signal.js';

/** The clock and timers a bucket uses (tests inject a fake one). */
export interface BucketClock {
  nowMs(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: BucketClock = {
  nowMs: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, clampTimerMs(ms)),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Waiter { grantAtMs: number; resolve(): void; reject(err: unknown): void; cleanup(): void }

export class TokenBucket {
  /** tokens available at `atMs` (negative: booked ahead by waiting takers) */
  private tokens: number;
  private atMs: number;
  private readonly queue: Waiter[] = [];
  private timer: unknown;

  constructor(
    readonly ratePerSecond: number,
    /** most tokens held at once (and the bucket starts full) */
    readonly burst: number,
    private readonly clock: BucketClock = realClock,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new RangeError(`token bucket: rate must be > 0, got ${ratePerSecond}`);
    if (!(burst > 0)) throw new RangeError(`token bucket: burst must be > 0, got ${burst}`);
    this.tokens = burst;
    this.atMs = clock.nowMs();
  }

  /**
   * Books `n` tokens now; returns the ms until they are the caller's (0: at once). Pure apart
   * from the clock read: successive reservations get non-decreasing grant times.
   */
  reserve(n: number): number {
    const now = this.clock.nowMs();
    if (now > this.atMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.atMs) * this.ratePerSecond) / 1000);
      this.atMs = now;
    }
    this.tokens -= n;
    // the debt is paid `-tokens / rate` after atMs (≥ now)
    return this.tokens >= 0 ? 0 : this.atMs - now + (-this.tokens * 1000) / this.ratePerSecond;
  }

  /** Waiting takers. */
  get waiting(): number { return this.queue.length; }

  /**
   * Resolves once `n` tokens are the caller's, after every earlier taker; rejects at once with
   * the signal's reason when `signal` aborts (Ctrl-C, the request's deadline, a closed body).
   */
  take(n: number, signal?: StopSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const waitMs = this.reserve(n);
    if (waitMs <= 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        grantAtMs: this.clock.nowMs() + waitMs, resolve, reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      const onAbort = (): void => {
        const i = this.queue.indexOf(w);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal!.reason);
        this.arm();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(w);
      this.arm();
    });
  }

  /** Serves every waiter whose time has come, in order, and sets one timer for the next. */
  private arm(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimer(this.timer);
      this.timer = undefined;
    }
    const now = this.clock.nowMs();
    while (this.queue.length > 0 && this.queue[0]!.grantAtMs <= now) {
      const w = this.queue.shift()!;
      w.cleanup();
      w.resolve();
    }
    const head = this.queue[0];
    if (head !== undefined) this.timer = this.clock.setTimer(() => { this.timer = undefined; this.arm(); }, Math.max(1, head.grantAtMs - now));
  }
}
