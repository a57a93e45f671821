/**
 * Per-endpoint deadline estimator — s3-algo's algorithm, with its two bugs fixed.
 *
 *   expectedMs(bytes, c)     = latencyMs + bytes × secondsPerByte × c × 1000
 *   deadlineMs(bytes, n, c)  = clamp(fraction × expectedMs(bytes, c), minMs, maxMs) × backoff^n
 *
 * secondsPerByte is the ENDPOINT's (aggregate) rate and c the number of requests in flight on
 * it (this one included, default 1): c requests share the endpoint's bandwidth, so each gets
 * 1/c of it. Without c, twelve 16 MiB requests sharing a 16 MB/s endpoint were all cut at a
 * deadline sized for one request alone, resent, cut again (bench S3: 28 s instead of 13 s).
 * While the endpoint is cold, a large request's expected time is taken at the slower of this
 * rate and the rate the endpoint served (coldLargeExpectedMs).
 *
 * where n is the 0-based attempt number: the first attempt gets the plain budget, every retry
 * gets `backoff` times the previous one (s3-algo copies its attempt counter per try, so its
 * deadline never grows).
 *
 * A request cut by its deadline is recorded too, as taking exactly the deadline (a lower bound):
 * otherwise an endpoint slower than the prior would be cut on every attempt and never learnt.
 *
 * Learning (`record`) is an exponentially weighted moving average with weight `alpha` on the
 * NEW sample: `estimate ← alpha × sample + (1 − alpha) × estimate` (s3-algo documents this
 * but codes the weights the other way round). Requests of at least `bandwidthSampleBytes`
 * teach the bandwidth (secondsPerByte, after subtracting the current latency estimate);
 * smaller ones teach the latency (after subtracting the transfer-time estimate). Until a
 * quantity has 1/alpha samples its weight is 1/n (a plain running mean that starts from the
 * configured prior), so the first few samples replace the prior quickly instead of being
 * averaged into it at weight alpha.
 *
 * The tail (./latency-histogram.ts, decayed): beside the EWMA each endpoint keeps the
 * distribution of its small requests' times (ms) and of its large requests' ms per MB per
 * share (elapsed ÷ (bytes × c)). Once `tailMinSamples` small requests have succeeded, a small
 * request's first deadline is
 *
 *   deadlineMs(bytes < bandwidthSampleBytes, 0) = clamp(max(tailFloorMs, p99 × tailMargin), ·, maxMs)
 *
 * (× backoff^n for retries as above); until then the cold-start formula above (minMs floor).
 * Large requests keep the EWMA formula. Only successes enter the histograms: a cut request's
 * time is a lower bound that would push the p99 up by the deadline itself, every time.
 * `hedgeAfterMs` is the time after which the engine sends a hedge (engine/request.ts).
 */

import { DEFAULT_ESTIMATOR, DEFAULT_TAIL, type EstimatorConfig } from '../config/defaults.js';
import { LatencyHistogram, DEFAULT_HISTOGRAM } from './latency-histogram.js';

/** The floor of secondsPerByte: 100 GB/s. Keeps a 0-ms sample from making every deadline minMs. */
const MIN_SECONDS_PER_BYTE = 1 / 100e9;
/** Large requests whose ms per MB must be known before their quantile sets the hedge time. */
const LARGE_MIN_SAMPLES = 20;
/**
 * Until then, once LARGE_COLD_SAMPLES have taught the EWMA, a large request is hedged after
 * LARGE_COLD_FACTOR × its expected time: a run has few parts (bench H4: 40), and without this its
 * first stalled part waited for the deadline (3× expected) and then a retry, 4-5× in all.
 * Expected at the slower of two rates: the EWMA's, and the endpoint's rate as served (large bytes
 * answered ÷ the span from the first one's start to the last answer). Parts started together are
 * not served alike, and the first answers are the fastest: bench S6l (16 parts of 16 MiB at once)
 * answered its first 4 in 130-270 ms and its median in 430-680 ms, and the EWMA alone hedged 2 of
 * the 16 at 0.72-0.83× the median in 5 of 8 runs, every hedge lost.
 */
const LARGE_COLD_SAMPLES = 4;
const LARGE_COLD_FACTOR = 1.5;
/**
 * A large write whose body is all sent is hedged once its wait for the answer passes
 * AFTER_BODY_MARGIN × the q-quantile of the endpoint's waits after a large body (known after
 * AFTER_BODY_MIN_SAMPLES), and never before AFTER_BODY_FLOOR_MS.
 */
const AFTER_BODY_MIN_SAMPLES = 8;
const AFTER_BODY_MARGIN = 1.5;
const AFTER_BODY_FLOOR_MS = 100;
/**
 * A hedge that loses (its first copy answers anyway) was sent too early: each loss stretches the
 * endpoint's hedge delay by HEDGE_LOSS_STRETCH, up to HEDGE_MAX_STRETCH × the quantile; a hedge
 * that wins proves stragglers are there and puts it back. On a healthy endpoint every hedge loses.
 */
const HEDGE_LOSS_STRETCH = 1.1;
const HEDGE_MAX_STRETCH = 4;
/**
 * A small request's hedge time is at most HEDGE_MEDIAN_CAP × its endpoint's median (then
 * stretched): a run's first 100 answers (new connections, a cold gateway) put its p95 at 3.5× the
 * median, and 1 answer in 20 held 1 s keeps it near 2× (bench H3 probes), so every straggler is
 * hedged within 3× its expected time while the p95 says later.
 */
const HEDGE_MEDIAN_CAP = 2;
/**
 * Stretched by lost hedges, a small request's hedge time stays under HEDGE_STRETCHED_CAP × the
 * median: at the healthy gateway's p99 (1.9-2.2× the median, bench H3 fault-free), so healthy
 * requests are still hedged rarely (bench H5: 0.2-0.3%, as with 2.5), and a straggler's hedge
 * leaves time for a timer late by the client's wait for a core (bench H3 probes: 20-40 ms, with a
 * median of ~27 ms; 5 of 20 runs had a proxy straggler first cut past 3× the median, against 12
 * of 20 with 2.5; docs/benchmarks.md, fourth session of 2026-12-04).
 */
const HEDGE_STRETCHED_CAP = 2.2;
/**
 * A small straggler whose hedge was refused is cut and sent again once it has run CUT_MEDIANS ×
 * its endpoint's median (then stretched and capped as the hedge time): past the healthy gateway's p95
 * (1.7-2.0× the median, bench H5), and the cut time does not follow the p95 down as cut requests
 * leave the tail uncounted.
 */
const CUT_MEDIANS = 2;

export class DeadlineEstimator {
  private latencyMsEst: number;
  private secondsPerByteEst: number;
  private latencySamples = 0;
  private bandwidthSamples = 0;
  /** small requests' times, ms */
  private readonly smallMs = new LatencyHistogram();
  /** large writes: ms from the last body byte handed to the socket to the answer, per share of the endpoint */
  private readonly afterBodyMs = new LatencyHistogram();
  /** large requests' ms per MB per share of the endpoint */
  private readonly largeMsPerMB = new LatencyHistogram({ ...DEFAULT_HISTOGRAM, minValue: 0.01, maxValue: 1e7 });
  /** EWMA of small requests' own rate, MB/s (the table's "MBps est" for them) */
  private smallMbpsEst: number;
  /** × the hedge quantile: 1 after a hedge won, stretched by each hedge that lost */
  private hedgeStretch = 1;
  /** large requests answered while cold: bytes, and the span from the first one's start to the last answer (ms) */
  private servedBytes = 0;
  private servedFromMs = Infinity;
  private servedToMs = -Infinity;

  /** `nowMs`: the clock the cold span is read on (tests pass their own). */
  constructor(readonly config: EstimatorConfig = DEFAULT_ESTIMATOR, private readonly nowMs: () => number = () => performance.now()) {
    this.latencyMsEst = config.expectedLatencyMs;
    this.secondsPerByteEst = 1 / (config.expectedMBps * 1e6);
    this.smallMbpsEst = config.expectedMBps;
  }

  /** Expected duration of a request of `bytes` sharing the endpoint with `concurrency` − 1 others, ms. */
  expectedMs(bytes: number, concurrency = 1): number {
    return this.latencyMsEst + bytes * this.secondsPerByteEst * Math.max(1, concurrency) * 1000;
  }

  /**
   * Whole-request budget for attempt `attempt` (0 = first try) among `concurrency` requests, ms.
   * `limitedMs`: the most time --bwlimit can hold this body back (endpoints/limits.ts
   * `limitedTransferMs`; 0 without a limit). The expected time is never below latency +
   * limitedMs, and the budget never below fraction × limitedMs, not even past maxMs: a body the
   * user's own limit slows is not a stall, and waiting for tokens must not cut it (the learnt
   * bandwidth alone lags behind: the prior, or a limit shared with other endpoints).
   * `useTail` false: the cold-start formula even once the tail is known (engine/request.ts: a
   * write to a bucket whose versioning is not known to be off).
   */
  deadlineMs(bytes: number, attempt: number, concurrency = 1, limitedMs = 0, useTail = true): number {
    const { fraction, minMs, maxMs, backoff } = this.config;
    const expected = Math.max(this.coldLargeExpectedMs(bytes, concurrency), this.latencyMsEst + limitedMs);
    // a limited body's wait is never cut as a stall; otherwise the tail decides once it is known
    const tail = limitedMs > 0 || !useTail ? undefined : this.tailDeadlineMs(bytes);
    const base = Math.max(fraction * limitedMs, tail ?? Math.min(maxMs, Math.max(minMs, fraction * expected)));
    return base * backoff ** attempt;
  }

  /**
   * expectedMs, but for a large request while fewer than LARGE_MIN_SAMPLES are measured, at the
   * slower of the EWMA's rate and the rate the endpoint served (LARGE_COLD_SAMPLES): its deadline
   * too, or a healthy part that started as a wave's first answers came in was cut (10 × 64 MiB
   * downloads: 16 MiB parts given 500-680 ms, taking 400-800; up to 5 of 40 cut and fetched again).
   */
  private coldLargeExpectedMs(bytes: number, concurrency: number): number {
    const ewmaMs = this.expectedMs(bytes, concurrency);
    if (!this.isLarge(bytes) || this.largeMsPerMB.samples >= LARGE_MIN_SAMPLES) return ewmaMs;
    return Math.max(ewmaMs, this.servedExpectedMs(bytes, concurrency) ?? 0);
  }

  /** A large request's expected time at the rate the endpoint served while cold (LARGE_COLD_SAMPLES), ms; undefined before any answer. */
  private servedExpectedMs(bytes: number, concurrency: number): number | undefined {
    if (this.servedBytes === 0) return undefined;
    return this.latencyMsEst + bytes * Math.max(1, concurrency) * ((this.servedToMs - this.servedFromMs) / this.servedBytes);
  }

  /** A small request's first deadline from the p99 of its endpoint's small requests; undefined until known. */
  tailDeadlineMs(bytes: number): number | undefined {
    if (!this.tailKnown(bytes)) return undefined;
    const { tailMargin = DEFAULT_TAIL.tailMargin, tailFloorMs = DEFAULT_TAIL.tailFloorMs } = this.config;
    return Math.min(this.config.maxMs, Math.max(tailFloorMs, this.smallMs.quantile(0.99)! * tailMargin));
  }

  /** A large request (at least `bandwidthSampleBytes`): timed by bandwidth; a small one by its latency. */
  isLarge(bytes: number): boolean {
    return bytes >= this.config.bandwidthSampleBytes;
  }

  /** Has the EWMA learnt the bandwidth from LARGE_COLD_SAMPLES large requests (else it is the prior's)? */
  bandwidthKnown(): boolean {
    return this.bandwidthSamples >= LARGE_COLD_SAMPLES;
  }

  /** Would a request of `bytes` get its deadline from the tail (small, enough samples)? No quantile computed. */
  tailKnown(bytes: number): boolean {
    return !this.isLarge(bytes) && this.smallMs.samples >= (this.config.tailMinSamples ?? DEFAULT_TAIL.tailMinSamples);
  }

  /**
   * When a request of `bytes` among `concurrency` has run past quantile `q` of its kind on this
   * endpoint, ms: the small requests' q-quantile time (at most HEDGE_MEDIAN_CAP × their median),
   * or latency + bytes × c × the q-quantile ms per MB of the large ones (before 20 of them, 1.5 ×
   * the expected time at the slower of the EWMA's rate and the rate served: LARGE_COLD_FACTOR).
   * Undefined while too few samples say it.
   */
  hedgeAfterMs(bytes: number, q: number, concurrency = 1): number | undefined {
    if (!this.isLarge(bytes)) {
      if (!this.tailKnown(bytes)) return undefined;
      const medianMs = this.smallMs.quantile(0.5)!;
      return this.stretchedSmallMs(Math.min(this.smallMs.quantile(q)!, HEDGE_MEDIAN_CAP * medianMs), medianMs);
    }
    if (this.largeMsPerMB.samples < LARGE_MIN_SAMPLES) {
      if (!this.bandwidthKnown()) return undefined;
      return this.coldLargeExpectedMs(bytes, concurrency) * LARGE_COLD_FACTOR * this.hedgeStretch;
    }
    return this.latencyMsEst + (bytes / 1e6) * Math.max(1, concurrency) * this.largeMsPerMB.quantile(q)! * this.hedgeStretch;
  }

  /** When a small request whose hedge was refused is cut and sent again, ms (engine/request.ts resendRefused), stretched and capped as its hedge time; undefined for large ones and while too few samples say it. */
  cutAfterMs(bytes: number): number | undefined {
    if (!this.tailKnown(bytes)) return undefined;
    const medianMs = this.smallMs.quantile(0.5)!;
    return this.stretchedSmallMs(CUT_MEDIANS * medianMs, medianMs);
  }

  /** A small request's hedge or cut time `ms`, stretched by the hedges lost, at most HEDGE_STRETCHED_CAP × the median. */
  private stretchedSmallMs(ms: number, medianMs: number): number {
    return Math.min(ms * this.hedgeStretch, HEDGE_STRETCHED_CAP * medianMs);
  }

  /**
   * How long a large write may wait for its answer once its body is all sent before it is
   * hedged while `concurrency` requests share its endpoint, ms: AFTER_BODY_MARGIN × the
   * q-quantile of such waits here per share × concurrency. Undefined for small requests and while
   * too few samples say it. Per share: what is left of a body in the buffers on its way drains
   * at the endpoint's rate, shared (bench H5l probes: 60-455 ms at 2.5-9 in flight, the run's
   * first samples, then 500-1,400 ms at 12-16, 25-90 ms per share throughout).
   */
  hedgeAfterBodyMs(bytes: number, q: number, concurrency: number): number | undefined {
    if (!this.isLarge(bytes) || this.afterBodyMs.samples < AFTER_BODY_MIN_SAMPLES) return undefined;
    return Math.max(AFTER_BODY_FLOOR_MS, this.afterBodyMs.quantile(q)! * Math.max(1, concurrency) * AFTER_BODY_MARGIN * this.hedgeStretch);
  }

  /** A hedge sent after `hedgeAfterMs` won (the first copy was a straggler) or lost (it was not). */
  hedgeOutcome(won: boolean): void {
    this.hedgeStretch = won ? 1 : Math.min(HEDGE_MAX_STRETCH, this.hedgeStretch * HEDGE_LOSS_STRETCH);
  }

  /**
   * Learns from one request of `bytes` that took `elapsedMs` while on average `concurrency`
   * requests (itself included) were in flight on the endpoint. `censored`: the request was cut
   * (deadline, lost hedge) after `elapsedMs`, a lower bound: it teaches the EWMA, not the tail.
   * `afterBodyMs`: of those, the wait from the last body byte sent to the answer (large writes).
   */
  record(bytes: number, elapsedMs: number, concurrency = 1, censored = false, afterBodyMs?: number): void {
    const { alpha } = this.config;
    const large = this.isLarge(bytes);
    if (!(elapsedMs >= 0) || !(bytes >= 0)) return;
    const c = Math.max(1, concurrency);
    if (!censored) this.recordTail(bytes, elapsedMs, c);
    if (!censored && afterBodyMs !== undefined && afterBodyMs >= 0 && large) this.afterBodyMs.record(afterBodyMs / c);
    if (large) {
      this.bandwidthSamples++;
      const w = Math.max(alpha, 1 / this.bandwidthSamples);
      const transferMs = Math.max(elapsedMs - this.latencyMsEst, elapsedMs / 2);
      const sample = Math.max(MIN_SECONDS_PER_BYTE, transferMs / 1000 / bytes / c);
      this.secondsPerByteEst = w * sample + (1 - w) * this.secondsPerByteEst;
    } else {
      this.latencySamples++;
      const w = Math.max(alpha, 1 / this.latencySamples);
      const sample = Math.max(0, elapsedMs - bytes * this.secondsPerByteEst * c * 1000);
      this.latencyMsEst = w * sample + (1 - w) * this.latencyMsEst;
    }
  }

  private recordTail(bytes: number, elapsedMs: number, c: number): void {
    if (this.isLarge(bytes)) {
      if (this.largeMsPerMB.samples < LARGE_MIN_SAMPLES) {
        const nowMs = this.nowMs();
        this.servedBytes += bytes;
        this.servedFromMs = Math.min(this.servedFromMs, nowMs - elapsedMs);
        this.servedToMs = Math.max(this.servedToMs, nowMs);
      }
      this.largeMsPerMB.record(elapsedMs / (bytes / 1e6) / c);
      return;
    }
    this.smallMs.record(elapsedMs);
    if (bytes > 0 && elapsedMs > 0) {
      const w = Math.max(this.config.alpha, 1 / this.smallMs.samples);
      this.smallMbpsEst = w * (bytes / 1e3 / elapsedMs) + (1 - w) * this.smallMbpsEst;
    }
  }

  /** MB/s to show beside a request of `bytes`: its own class's estimate (small: their own rate). */
  mbpsFor(bytes: number): number {
    return this.isLarge(bytes) ? this.mbps : this.smallMbpsEst;
  }

  /** The q-quantile of the small requests' times, ms (undefined before any). */
  smallQuantileMs(q: number): number | undefined {
    return this.smallMs.quantile(q);
  }

  /** Current estimate of the endpoint's seconds per byte (all its requests together). */
  get secondsPerByte(): number {
    return this.secondsPerByteEst;
  }

  /** Current estimate of the endpoint's bandwidth, MB/s (10^6 bytes). */
  get mbps(): number {
    return 1 / this.secondsPerByteEst / 1e6;
  }

  /** Current latency estimate, ms. */
  get latencyMs(): number {
    return this.latencyMsEst;
  }

  get samples(): { latency: number; bandwidth: number } {
    return { latency: this.latencySamples, bandwidth: this.bandwidthSamples };
  }
}
