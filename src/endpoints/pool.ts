/**
 * The endpoints a run uses, and the one place that decides which endpoint a request goes to.
 *
 * - Capacity: an endpoint takes at most `maxConcurrent` requests at once (its socket pool),
 *   fewer while it throttles (its AIMD limit, ./concurrency-limit.ts: halved on SlowDown, back
 *   up on successes); a request waits when every candidate is full.
 * - Health: each endpoint has a circuit breaker (./breaker.ts), fed only by failures that speak
 *   of its health (engine/retry-policy.ts `feedsBreaker`); an open endpoint gets no new
 *   work. While no candidate is healthy, requests wait for the probes the breakers let through;
 *   once no candidate has been healthy for `allOpenWaitMs` (pool-wide, probes included), requests
 *   fail with AllEndpointsDown (fatal: nothing in the run can make progress).
 * - Routing (pool mode): bucket-map first, then the strategy among the healthy endpoints with
 *   room, preferring one other than the endpoint the previous attempt failed on (failover):
 *     round-robin  – smooth weighted round-robin
 *     least-loaded – fewest requests in flight per unit of weight
 *     adaptive     – earliest expected finish, from the endpoint's live estimator:
 *                    (latency × (1 + in flight ÷ maxConcurrent) + (bytes in flight + bytes) ×
 *                    seconds per byte) ÷ weight. An endpoint with no bandwidth sample yet is
 *                    assumed as slow as the slowest measured one, so an unmeasured endpoint is
 *                    not flooded on an optimistic prior.
 * - Modes: replicate pins each copy to its endpoint (the caller does); fallback sends writes to
 *   the first endpoint and reads to endpoints in order (`fallbackIndex`).
 */
import type { Mode, PoolSpec, Strategy } from '../config/pool-config.js';
import { mapBucket } from '../config/pool-config.js';
import { clampTimerMs } from '../config/units.js';
import type { Endpoint } from './endpoint.js';

export interface AcquireRequest {
  bytes: number;
  kind: 'read' | 'write';
  bucket?: string;
  /** only this endpoint (multipart parts without shared storage, replicate copies) */
  pinned?: Endpoint;
  /** prefer any other endpoint (the previous attempt failed here) */
  avoid?: Endpoint;
  /** with `avoid`: only another endpoint (a hedge of a request its endpoint is slow for as a whole) */
  othersOnly?: boolean;
  /** fallback-mode reads: the n-th endpoint in order */
  fallbackIndex?: number;
}

/** Every endpoint stayed unavailable (breaker open) past the bounded wait. */
export class AllEndpointsDown extends Error {
  readonly code = 'AllEndpointsDown';
  constructor(detail: string) {
    super(`every endpoint is failing: ${detail}`);
    this.name = 'AllEndpointsDown';
  }
}

export class EndpointPool {
  readonly mode: Mode;
  readonly strategy: Strategy;
  readonly sharedStorage: boolean;
  private readonly spec: Pick<PoolSpec, 'bucketMap'>;
  private readonly waiters = new Set<() => void>();
  private rrTurn = 0;
  /** since when no endpoint's breaker has been closed (undefined while one is) */
  private allDownSinceMs: number | undefined;
  private readonly rrCredit = new Map<Endpoint, number>();

  constructor(
    readonly endpoints: readonly Endpoint[],
    spec: Pick<PoolSpec, 'mode' | 'strategy' | 'bucketMap' | 'sharedStorage'>,
    /** how long a request waits for an endpoint when all are open, ms */
    private readonly allOpenWaitMs = Math.max(...endpoints.map((e) => e.breaker.config.cooldownMs)) * 2 + 1000,
  ) {
    if (endpoints.length === 0) throw new RangeError('an endpoint pool needs at least one endpoint');
    this.mode = spec.mode;
    this.strategy = spec.strategy;
    this.sharedStorage = spec.sharedStorage;
    this.spec = spec;
  }

  /** The endpoint every write goes to in fallback mode, and the first tried for reads. */
  get primary(): Endpoint {
    return this.endpoints[0]!;
  }

  /**
   * Waits until an endpoint may take the request, marks it in flight there and returns it.
   * Call `release` exactly once afterwards.
   */
  async acquire(req: AcquireRequest, signal: AbortSignal): Promise<Endpoint> {
    for (;;) {
      signal.throwIfAborted();
      const now = performance.now();
      const candidates = this.candidates(req);
      if (!req.pinned && candidates.every((e) => e.breaker.state !== 'closed')) {
        this.allDownSinceMs ??= now;
        if (now - this.allDownSinceMs > this.allOpenWaitMs) {
          throw new AllEndpointsDown(candidates.map((e) => `${e.name} ${e.label} (${e.lastError ?? 'unavailable'})`).join(', '));
        }
      } else if (!req.pinned) {
        this.allDownSinceMs = undefined;
      }
      const ep = this.choose(req, now);
      if (ep) {
        if (!req.pinned && !ep.breaker.tryAcquire(now)) continue; // raced for a half-open probe
        ep.stats.inFlight++;
        ep.inFlightBytes += req.bytes;
        if (ep.stats.inFlight > ep.stats.inFlightPeak) ep.stats.inFlightPeak = ep.stats.inFlight;
        return ep;
      }
      // wake on a release, or when the earliest open breaker lets a probe through
      const nextProbe = Math.min(...candidates.map((e) => e.breaker.readyAtMs()).filter((t) => t > now));
      const waitMs = Math.max(1, Math.min(Number.isFinite(nextProbe) ? nextProbe - now : 1000, 1000));
      await this.waitForChange(waitMs, signal);
    }
  }

  /**
   * A place for a hedge (engine/request.ts) now, or undefined: an endpoint whose breaker is
   * closed, other than `req.avoid` when the candidates allow, with a hedge place left (its
   * `hedgeExtra` beyond its limit). Never waits. Call `release` (and drop hedgesInFlight) after.
   */
  tryAcquireHedge(req: AcquireRequest): Endpoint | undefined {
    const now = performance.now();
    const room = (e: Endpoint): boolean => e.breaker.state === 'closed' && e.hedgesInFlight < e.hedgeExtra && e.stats.inFlight < e.limit.limit + e.hedgeExtra;
    const ready = this.candidates(req).filter(room);
    const others = ready.filter((e) => e !== req.avoid);
    const ep = others.length > 0
      ? this.lowest(others, (e) => e.estimator.latencyMs * (1 + e.stats.inFlight / e.maxConcurrent) / e.weight)
      : req.othersOnly ? undefined : ready[0];
    if (!ep || !ep.breaker.tryAcquire(now)) return undefined;
    ep.hedgesInFlight++;
    ep.stats.inFlight++;
    ep.inFlightBytes += req.bytes;
    if (ep.stats.inFlight > ep.stats.inFlightPeak) ep.stats.inFlightPeak = ep.stats.inFlight;
    return ep;
  }

  /**
   * Ends a request: frees its place and tells the breaker what the outcome says about health;
   * a throttled one (sent at `sentAtMs`) lowers the endpoint's limit instead.
   */
  release(ep: Endpoint, bytes: number, outcome: 'success' | 'failure' | 'throttled' | 'neutral', reason?: string, sentAtMs?: number): void {
    ep.stats.inFlight--;
    ep.inFlightBytes -= bytes;
    const now = performance.now();
    if (outcome === 'success') {
      ep.breaker.onSuccess(now);
      ep.limit.onSuccess();
    } else if (outcome === 'throttled') {
      ep.limit.onThrottle(sentAtMs ?? now, now);
      ep.breaker.onNeutral();
    } else if (outcome === 'failure') {
      ep.lastError = reason;
      ep.breaker.onFailure(now, reason ?? 'error');
    } else ep.breaker.onNeutral();
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  destroy(): void {
    for (const ep of this.endpoints) ep.destroy();
  }

  /** The endpoints this request may go to at all. */
  private candidates(req: AcquireRequest): readonly Endpoint[] {
    if (req.pinned) return [req.pinned];
    if (this.mode === 'fallback') {
      if (req.kind === 'write') return [this.primary];
      return [this.endpoints[(req.fallbackIndex ?? 0) % this.endpoints.length]!];
    }
    return this.endpoints;
  }

  private choose(req: AcquireRequest, now: number): Endpoint | undefined {
    const candidates = this.candidates(req);
    const hasRoom = (e: Endpoint): boolean => e.stats.inFlight < e.limit.limit;
    if (req.pinned || candidates.length === 1) {
      const only = candidates[0]!;
      // a pinned request has nowhere else to go: only capacity applies, not the breaker
      return hasRoom(only) && (req.pinned !== undefined || only.breaker.canAcquire(now)) ? only : undefined;
    }
    let ready = candidates.filter((e) => hasRoom(e) && e.breaker.canAcquire(now));
    if (ready.length === 0) return undefined;
    if (req.avoid && ready.length > 1) ready = ready.filter((e) => e !== req.avoid);
    if (req.bucket !== undefined && this.spec.bucketMap.length > 0) {
      const name = mapBucket(this.spec, req.bucket);
      const mapped = name !== undefined ? ready.find((e) => e.name === name) : undefined;
      if (mapped) return mapped;
      // the mapped endpoint is down or full: in pool mode any endpoint holds the same data
      if (name !== undefined && this.endpoints.some((e) => e.name === name && hasRoom(e) && e.breaker.state === 'closed')) return undefined;
    }
    switch (this.strategy) {
      case 'round-robin':
        return this.weightedRoundRobin(ready);
      case 'least-loaded':
        return this.lowest(ready, (e) => (e.stats.inFlight + 1) / e.weight);
      case 'adaptive':
      case 'bucket-map': {
        const measured = this.endpoints.filter((e) => e.estimator.samples.bandwidth > 0);
        const worstSpb = measured.length > 0 ? Math.max(...measured.map((e) => e.estimator.secondsPerByte)) : undefined;
        const big = this.endpoints[0]!.estimator.isLarge(req.bytes);
        // an endpoint not yet heard from is assumed as quick as the quickest one heard from:
        // a first answer faster than the prior must not keep every later request on its endpoint
        const timed = this.endpoints.filter((e) => e.estimator.samples.latency > 0);
        const bestLatencyMs = timed.length > 0 ? Math.min(...timed.map((e) => e.estimator.latencyMs)) : undefined;
        return this.lowest(ready, (e) => {
          const spb = big && e.estimator.samples.bandwidth === 0 && worstSpb !== undefined ? worstSpb : e.estimator.secondsPerByte;
          const latencyMs = e.estimator.samples.latency === 0 && bestLatencyMs !== undefined ? Math.min(bestLatencyMs, e.estimator.latencyMs) : e.estimator.latencyMs;
          const queueing = latencyMs * (1 + e.stats.inFlight / e.maxConcurrent);
          return (queueing + (e.inFlightBytes + req.bytes) * spb * 1000) / e.weight;
        });
      }
    }
  }

  /** Lowest score; ties go round-robin so equal endpoints share the work. */
  private lowest(ready: readonly Endpoint[], score: (e: Endpoint) => number): Endpoint {
    const start = this.rrTurn++ % ready.length;
    let best = ready[start]!;
    let bestScore = score(best);
    for (let k = 1; k < ready.length; k++) {
      const e = ready[(start + k) % ready.length]!;
      const s = score(e);
      if (s < bestScore) { best = e; bestScore = s; }
    }
    return best;
  }

  /** Smooth weighted round-robin (as nginx): even spread, in proportion to weight. */
  private weightedRoundRobin(ready: readonly Endpoint[]): Endpoint {
    let total = 0;
    let best: Endpoint | undefined;
    for (const e of ready) {
      const credit = (this.rrCredit.get(e) ?? 0) + e.weight;
      this.rrCredit.set(e, credit);
      total += e.weight;
      if (!best || credit > this.rrCredit.get(best)!) best = e;
    }
    this.rrCredit.set(best!, this.rrCredit.get(best!)! - total);
    return best!;
  }

  private waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, clampTimerMs(ms));
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }
}
