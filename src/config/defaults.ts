/**
 * The tunables of the request path with their defaults: retries (engine/request.ts), the deadline
 * estimator (endpoints/estimator.ts) and the circuit breaker (endpoints/breaker.ts). They live here,
 * below those layers, because config/options.ts and config/pool-config.ts fill them in.
 */

export interface RetryConfig {
  /** retries after the first attempt; default 5, range 0–100 */
  retries: number;
  /** base of the full-jitter backoff, ms; default 100 */
  backoffBaseMs: number;
  /** cap of one backoff wait, ms; default 10000 */
  backoffCapMs: number;
  /** how long one request's throttled retries are free of `retries`, ms; default THROTTLE_BUDGET_MS */
  throttleBudgetMs?: number;
}

/**
 * 5 min: a throttled request retries (backing off to the cap) without spending `retries` for
 * this long after its first throttle. S3 answers SlowDown while it scales a prefix, which can
 * take minutes; a store that refuses for good (a quota) still ends each request within
 * 5 min + retries × backoffCapMs (~6 min with the defaults).
 */
export const THROTTLE_BUDGET_MS = 300_000;

export const DEFAULT_RETRY: RetryConfig = { retries: 5, backoffBaseMs: 100, backoffCapMs: 10_000 };

/** Tunables of the estimator; every field has a unit in its name or doc. */
export interface EstimatorConfig {
  /** deadline = fraction × expected time; default 3, range 1–100 */
  fraction: number;
  /** deadline multiplier per retry; default 2, range 1–10 */
  backoff: number;
  /** lower clamp of the first-attempt deadline, ms; default 500 */
  minMs: number;
  /** upper clamp of the first-attempt deadline, ms; default 600000 (10 min) */
  maxMs: number;
  /** bandwidth assumed before any sample, MB/s (10^6 bytes); default 10 */
  expectedMBps: number;
  /** latency assumed before any sample, ms; default 50 */
  expectedLatencyMs: number;
  /** EWMA weight of a new sample, 0 < alpha ≤ 1; default 0.2 */
  alpha: number;
  /** requests of at least this many bytes teach bandwidth, smaller ones latency; default 1 MiB */
  bandwidthSampleBytes: number;
  /** small request, once its p99 is known: deadline = max(tailFloorMs, p99 × tailMargin); default 3 */
  tailMargin?: number;
  /** lower clamp of that deadline, ms; default 100 */
  tailFloorMs?: number;
  /** successful small requests before the p99 sets their deadline (the cold start uses minMs); default 100 */
  tailMinSamples?: number;
}

/**
 * The deadline of a small request from its endpoint's latency distribution (endpoints/estimator.ts):
 * p99 needs ~100 samples to be more than the maximum; ×3 of the p99 (~75 ms on RGW at 16 in
 * flight, README "Choosing the defaults") is ~225 ms, far above a healthy request and far below
 * the 500 ms cold-start floor; 100 ms keeps a run of quick answers from cutting at tens of ms.
 * Provisional: chosen from the earlier p99.9 measurement, not re-measured on a quiet machine.
 */
export const DEFAULT_TAIL = { tailMargin: 3, tailFloorMs: 100, tailMinSamples: 100 } as const;

export const DEFAULT_ESTIMATOR: EstimatorConfig = {
  fraction: 3,
  // Chosen by measurement (README "Choosing the defaults"): small PUTs to RGW at 16 in flight
  // take p50 24 ms, p99.9 ≤ 75 ms, so 500 ms is ~7× the worst seen; backoff 2 gives a small
  // request 0.5+1+2+4+8+16 = 31.5 s over 6 attempts before it fails, so a server hiccup of
  // tens of seconds still loses nothing, while a stall costs one slot only 0.5 s.
  backoff: 2,
  minMs: 500,
  maxMs: 600_000,
  expectedMBps: 10,
  expectedLatencyMs: 50,
  alpha: 0.2,
  bandwidthSampleBytes: 1024 * 1024,
};

/** Hedged requests (engine/request.ts, engine/hedge-policy.ts). */
export interface HedgeConfig {
  /** send hedges at all; default true (`--no-hedge`) */
  enabled: boolean;
  /** hedge a request once it has run past this quantile of its endpoint's times; default 0.95 (`--hedge-after p95`) */
  afterQuantile: number;
  /** hedges at most this fraction of requests (token bucket); default 0.05 */
  budgetFraction: number;
  /** hedges the budget may hold in reserve (its burst); default 10 */
  budgetBurst: number;
}

export const DEFAULT_HEDGE: HedgeConfig = { enabled: true, afterQuantile: 0.95, budgetFraction: 0.05, budgetBurst: 10 };

export interface BreakerConfig {
  /** consecutive failures that open the breaker; default 5, range 1–1000 */
  threshold: number;
  /** time an open breaker waits before one probe is let through, ms; default 10000 */
  cooldownMs: number;
}

export const DEFAULT_BREAKER: BreakerConfig = { threshold: 5, cooldownMs: 10_000 };
