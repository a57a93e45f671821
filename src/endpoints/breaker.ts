/**
 * Circuit breaker of one endpoint: closed → open after `threshold` consecutive health failures
 * → half-open once `cooldownMs` has passed, letting exactly one probe through → closed on its
 * success, open again (a new cooldown) on its failure. Pure: time is passed in.
 *
 * Only failures that say something about the endpoint's health count (connection refused or
 * reset, our deadline, 5xx other than throttling: engine/retry-policy.ts `feedsBreaker`); a 4xx
 * about one request (AccessDenied, BadDigest, clock skew), SlowDown/429 (they lower the
 * endpoint's in-flight limit instead) and local errors do not.
 *
 * Our own deadline is the weakest of those signals: a gateway that pauses a few hundred ms cuts
 * every request in flight at its tail deadline (p99 × 3) at once, and opening then stopped a
 * one-endpoint run for the whole cooldown, or ended it (AllEndpointsDown) when the probe met the
 * same pause. So deadline cuts count toward the threshold but open the breaker only once the
 * endpoint has not answered for STALL_SILENCE_MS; answers that say it is down open it at once.
 */
import type { BreakerConfig } from '../config/defaults.js';

/**
 * Silence (no success) after which deadline cuts may open the breaker, ms. Gateway pauses seen
 * on the local RGW gateways last 0.2-0.5 s (test/e2e/hedge.test.ts reproduces one); an endpoint
 * that is gone stays silent for good, and costs 2 s more to notice.
 */
export const STALL_SILENCE_MS = 2000;

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerTransition {
  /** ms since the breaker was made */
  atMs: number;
  from: BreakerState;
  to: BreakerState;
  /** error code of the failure that caused it, for → open */
  reason?: string;
}

export class CircuitBreaker {
  private stateNow: BreakerState = 'closed';
  private consecutiveFailures = 0;
  private openedAtMs = 0;
  private probeInFlight = false;
  /** the last success, ms (the breaker's start until one) */
  private lastSuccessMs: number;
  readonly transitions: BreakerTransition[] = [];

  constructor(readonly config: BreakerConfig, private readonly startMs: number) {
    this.lastSuccessMs = startMs;
  }

  get state(): BreakerState { return this.stateNow; }

  /** Would tryAcquire succeed now? Does not claim anything. */
  canAcquire(nowMs: number): boolean {
    if (this.stateNow === 'closed') return true;
    if (this.stateNow === 'open') return nowMs - this.openedAtMs >= this.config.cooldownMs;
    return !this.probeInFlight;
  }

  /** May a request be sent now? In half-open, only one probe at a time; claims it. */
  tryAcquire(nowMs: number): boolean {
    if (this.stateNow === 'closed') return true;
    if (this.stateNow === 'open') {
      if (nowMs - this.openedAtMs < this.config.cooldownMs) return false;
      this.move('half-open', nowMs);
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  /** When an open breaker lets its next probe through, ms (0 when closed). */
  readyAtMs(): number {
    return this.stateNow === 'open' ? this.openedAtMs + this.config.cooldownMs : 0;
  }

  onSuccess(nowMs: number): void {
    this.consecutiveFailures = 0;
    this.lastSuccessMs = nowMs;
    this.probeInFlight = false;
    if (this.stateNow !== 'closed') this.move('closed', nowMs);
  }

  onFailure(nowMs: number, reason: string): void {
    this.consecutiveFailures++;
    if (this.stateNow === 'half-open') {
      this.probeInFlight = false;
      this.open(nowMs, reason);
    } else if (this.stateNow === 'closed' && this.consecutiveFailures >= this.config.threshold) {
      if (reason !== 'DeadlineExceeded' || nowMs - this.lastSuccessMs >= STALL_SILENCE_MS) this.open(nowMs, reason);
    }
  }

  /** A request that was let through ended without saying anything about health (4xx, interrupt). */
  onNeutral(): void {
    this.probeInFlight = false;
  }

  private open(nowMs: number, reason: string): void {
    this.openedAtMs = nowMs;
    this.move('open', nowMs, reason);
  }

  private move(to: BreakerState, nowMs: number, reason?: string): void {
    this.transitions.push({ atMs: Math.round(nowMs - this.startMs), from: this.stateNow, to, ...(reason !== undefined && { reason }) });
    this.stateNow = to;
  }
}
