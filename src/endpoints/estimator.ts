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
 */

import { DEFAULT_ESTIMATOR, type EstimatorConfig } from '../config/defaults.js';

/** The floor of secondsPerByte: 100 GB/s. Keeps a 0-ms sample from making every deadline minMs. */
const MIN_SECONDS_PER_BYTE = 1 / 100e9;

export class DeadlineEstimator {
  private latencyMsEst: number;
  private secondsPerByteEst: number;
  private latencySamples = 0;
  private bandwidthSamples = 0;

  constructor(readonly config: EstimatorConfig = DEFAULT_ESTIMATOR) {
    this.latencyMsEst = config.expectedLatencyMs;
    this.secondsPerByteEst = 1 / (config.expectedMBps * 1e6);
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
   */
  deadlineMs(bytes: number, attempt: number, concurrency = 1, limitedMs = 0): number {
    const { fraction, minMs, maxMs, backoff } = this.config;
    const expected = Math.max(this.expectedMs(bytes, concurrency), this.latencyMsEst + limitedMs);
    const base = Math.max(fraction * limitedMs, Math.min(maxMs, Math.max(minMs, fraction * expected)));
    return base * backoff ** attempt;
  }

  /**
   * Learns from one request of `bytes` that took `elapsedMs` while on average `concurrency`
   * requests (itself included) were in flight on the endpoint.
   */
  record(bytes: number, elapsedMs: number, concurrency = 1): void {
    const { alpha, bandwidthSampleBytes } = this.config;
    if (!(elapsedMs >= 0) || !(bytes >= 0)) return;
    const c = Math.max(1, concurrency);
    if (bytes >= bandwidthSampleBytes) {
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
