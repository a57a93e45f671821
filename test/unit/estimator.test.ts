import { describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR, type EstimatorConfig } from '../../src/config/defaults.js';
import { DeadlineEstimator } from '../../src/endpoints/estimator.js';

const cfg = (o: Partial<EstimatorConfig> = {}): EstimatorConfig => ({ ...DEFAULT_ESTIMATOR, ...o });

describe('DeadlineEstimator', () => {
  it('follows the documented formula before any sample', () => {
    const e = new DeadlineEstimator(cfg({ expectedMBps: 10, expectedLatencyMs: 50, fraction: 3, minMs: 100, maxMs: 1e6, backoff: 1.5 }));
    // expected(10 MB) = 50 ms + 10e6 B / 10e6 B/s = 1050 ms; deadline = 3 × 1050
    expect(e.expectedMs(10e6)).toBeCloseTo(1050, 6);
    expect(e.deadlineMs(10e6, 0)).toBeCloseTo(3150, 6);
    expect(e.deadlineMs(10e6, 1)).toBeCloseTo(4725, 6);
    expect(e.deadlineMs(10e6, 2)).toBeCloseTo(7087.5, 6);
  });

  it('clamps before applying the per-attempt backoff', () => {
    const e = new DeadlineEstimator(cfg({ minMs: 2000, maxMs: 5000, backoff: 2 }));
    expect(e.deadlineMs(0, 0)).toBe(2000); // 3 × 50 ms < min
    expect(e.deadlineMs(0, 3)).toBe(16000); // grows past min with attempts
    expect(e.deadlineMs(1e12, 0)).toBe(5000);
    expect(e.deadlineMs(1e12, 1)).toBe(10000); // and past max too: a retry always gets more time
  });

  it('grows the deadline strictly on every attempt', () => {
    const e = new DeadlineEstimator();
    let prev = 0;
    for (let a = 0; a < 8; a++) {
      const d = e.deadlineMs(4096, a);
      expect(d).toBeGreaterThan(prev);
      prev = d;
    }
  });

  it('weights the new sample by alpha (not 1 − alpha) once warmed up', () => {
    const e = new DeadlineEstimator(cfg({ alpha: 0.2, expectedMBps: 10, expectedLatencyMs: 0, bandwidthSampleBytes: 1 }));
    for (let i = 0; i < 5; i++) e.record(10e6, 1000); // 10 MB/s, latency 0: 5 samples = 1/alpha, warmed up
    expect(e.mbps).toBeCloseTo(10, 6);
    e.record(10e6, 500); // one 20 MB/s sample: spb = 0.2 × 0.05e-6 + 0.8 × 0.1e-6 = 0.09e-6
    expect(1 / e.mbps).toBeCloseTo(0.09, 6);
  });

  it('learns latency from small requests and bandwidth from large ones', () => {
    const e = new DeadlineEstimator(cfg({ expectedLatencyMs: 50, expectedMBps: 10 }));
    for (let i = 0; i < 30; i++) e.record(1000, 5.1); // 1 kB in 5.1 ms: ~5 ms latency
    expect(e.latencyMs).toBeGreaterThan(4.5);
    expect(e.latencyMs).toBeLessThan(5.5);
    expect(e.mbps).toBeCloseTo(10, 6); // untouched by small requests
    for (let i = 0; i < 30; i++) e.record(100e6, 5 + 1000); // 100 MB/s
    expect(e.mbps).toBeGreaterThan(95);
    expect(e.mbps).toBeLessThan(105);
  });

  it.each([10, 0.1])('is within 20%% of a %sx bandwidth change in at most 20 samples', (factor) => {
    const e = new DeadlineEstimator(cfg({ expectedLatencyMs: 10 }));
    const size = 16 * 1024 * 1024;
    const ms = (mbpsTrue: number): number => 10 + (size / (mbpsTrue * 1e6)) * 1000;
    for (let i = 0; i < 50; i++) e.record(size, ms(50));
    expect(e.mbps).toBeCloseTo(50, 0);
    const target = 50 * factor;
    let n = 0;
    while (Math.abs(e.mbps - target) / target > 0.2 && n < 100) { e.record(size, ms(target)); n++; }
    expect(n).toBeLessThanOrEqual(20);
  });

  it('replaces the prior quickly while it has few samples', () => {
    const e = new DeadlineEstimator(cfg({ expectedMBps: 1, expectedLatencyMs: 0 }));
    e.record(8 * 1024 * 1024, 80); // ~105 MB/s, first sample: weight 1
    expect(e.mbps).toBeGreaterThan(90);
  });

  it('gives each of c concurrent requests 1/c of the endpoint\'s bandwidth', () => {
    const e = new DeadlineEstimator(cfg({ expectedMBps: 16, expectedLatencyMs: 0, fraction: 3, minMs: 1, maxMs: 1e9 }));
    const size = 16e6;
    expect(e.expectedMs(size, 1)).toBeCloseTo(1000, 6);
    expect(e.expectedMs(size, 12)).toBeCloseTo(12_000, 6);
    expect(e.deadlineMs(size, 0, 12)).toBeCloseTo(36_000, 6);
    expect(e.deadlineMs(size, 1, 12)).toBeCloseTo(36_000 * 1.5 ** 0 * DEFAULT_ESTIMATOR.backoff, 6);
  });

  it('learns the endpoint\'s aggregate bandwidth from requests that shared it', () => {
    const e = new DeadlineEstimator(cfg({ expectedMBps: 100, expectedLatencyMs: 0 }));
    // 12 requests of 16 MB each took 12 s on a 16 MB/s endpoint: 1.33 MB/s each, 16 MB/s together
    for (let i = 0; i < 20; i++) e.record(16e6, 12_000, 12);
    expect(e.mbps).toBeCloseTo(16, 0);
  });

  it('ignores nonsense samples', () => {
    const e = new DeadlineEstimator();
    const before = e.deadlineMs(1e6, 0);
    e.record(1e6, Number.NaN);
    e.record(-1, 10);
    expect(e.deadlineMs(1e6, 0)).toBe(before);
  });
});

describe('DeadlineEstimator tail (latency distribution)', () => {
  const small = 4096;
  it('keeps the cold-start deadline until tailMinSamples small requests succeeded, then max(floor, p99 × margin)', () => {
    const e = new DeadlineEstimator(cfg({ minMs: 500, tailMinSamples: 100, tailMargin: 3, tailFloorMs: 100, expectedLatencyMs: 50, fraction: 3, backoff: 2 }));
    for (let i = 0; i < 99; i++) e.record(small, 20 + (i % 10));
    expect(e.deadlineMs(small, 0)).toBe(500);
    expect(e.hedgeAfterMs(small, 0.95)).toBeUndefined();
    e.record(small, 80); // the 100th: p99 of 99 × 20..29 ms and one 80 ms is ~29 ms → 3 × 29 < 100: the floor
    expect(e.deadlineMs(small, 0)).toBe(100);
    expect(e.deadlineMs(small, 2)).toBe(400); // retries keep the backoff
    for (let i = 0; i < 20; i++) e.record(small, 60);
    // p99 now 60 ms (±2%): 3 × 60 = 180
    expect(e.deadlineMs(small, 0)).toBeGreaterThan(180 * 0.98);
    expect(e.deadlineMs(small, 0)).toBeLessThan(180 * 1.02);
    expect(e.hedgeAfterMs(small, 0.5)!).toBeGreaterThan(19);
  });

  it('a small request is hedged at its q-quantile, but never past 2 × the median (a heavy or cold tail would cut stragglers late)', () => {
    const e = new DeadlineEstimator(cfg({ tailMinSamples: 100 }));
    for (let i = 0; i < 100; i++) e.record(small, 20 + (i % 5));
    // p95 ~24 ms, under 2 × the median (~22 ms): the quantile decides
    expect(e.hedgeAfterMs(small, 0.95)!).toBeGreaterThan(24 * 0.97);
    expect(e.hedgeAfterMs(small, 0.95)!).toBeLessThan(24 * 1.03);
    // 10% at 300 ms (a cold start, or 1 answer in 10 held): p95 300 ms, the median still ~22 ms
    for (let i = 0; i < 12; i++) e.record(small, 300);
    expect(e.smallQuantileMs(0.95)!).toBeGreaterThan(290);
    const median = e.smallQuantileMs(0.5)!;
    expect(e.hedgeAfterMs(small, 0.95)!).toBeCloseTo(2 * median, 6);
    expect(e.hedgeAfterMs(small, 0.5)!).toBeCloseTo(median, 6);
  });

  it('cut requests (censored) teach the EWMA but not the tail: stalls do not inflate the p99', () => {
    const e = new DeadlineEstimator(cfg({ tailMinSamples: 100 }));
    for (let i = 0; i < 200; i++) e.record(small, 25);
    const before = e.deadlineMs(small, 0);
    for (let i = 0; i < 20; i++) e.record(small, before, 1, true);
    expect(e.deadlineMs(small, 0)).toBe(before);
  });

  it('large requests keep the EWMA deadline; their hedge time comes from ms per MB per share', () => {
    const e = new DeadlineEstimator(cfg({ bandwidthSampleBytes: 1 << 20, expectedLatencyMs: 0, alpha: 0.2 }));
    const mb16 = 16e6;
    for (let i = 0; i < 3; i++) e.record(mb16, 1600, 1); // 10 MB/s: 100 ms per MB
    expect(e.hedgeAfterMs(mb16, 0.95, 1)).toBeUndefined();
    e.record(mb16, 1600, 1);
    // 4 to 19 samples: 1.5 × the EWMA's expected time (a run has few parts: its first stall must be hedged too)
    expect(e.hedgeAfterMs(mb16, 0.95, 2)).toBeCloseTo(1.5 * e.expectedMs(mb16, 2), 6);
    for (let i = 0; i < 15; i++) e.record(mb16, 1600, 1);
    expect(e.hedgeAfterMs(mb16, 0.95, 1)).toBeCloseTo(1.5 * 1600, 6);
    e.record(mb16, 1600, 1);
    const after = e.hedgeAfterMs(mb16, 0.95, 2)!;
    expect(after).toBeGreaterThan(3200 * 0.97);
    expect(after).toBeLessThan(3200 * 1.03);
    expect(e.deadlineMs(mb16, 0, 1)).toBeCloseTo(3 * e.expectedMs(mb16, 1), 6);
  });

  it('a cold large request is hedged and cut at the rate the endpoint served, not only at its first (fastest) answers\' rate', () => {
    let nowMs = 0;
    const e = new DeadlineEstimator(cfg({ bandwidthSampleBytes: 1 << 20, expectedLatencyMs: 0 }), () => nowMs);
    const mb16 = 16e6;
    // bench S6l's shape: 16 parts started together at 0 ms, not served alike; one of them stalls
    const answersMs = [130, 150, 200, 270, 330, 380, 420, 450, 480, 520, 560, 600, 640, 670, 700];
    const medianMs = 450;
    const answer = (ms: number): void => { nowMs = ms; e.record(mb16, ms, 16); };
    answersMs.slice(0, 4).forEach(answer);
    // the EWMA of the first four alone says 1.5 × ~190 ms: healthy parts would be hedged before the median
    expect(1.5 * e.expectedMs(mb16, 16)).toBeLessThan(medianMs);
    expect(e.hedgeAfterMs(mb16, 0.95, 16)!).toBeGreaterThan(answersMs.at(-1)!);
    // and a part starting now, as the 16th in flight, is not cut before the wave's slowest healthy time
    expect(3 * e.expectedMs(mb16, 16)).toBeLessThan(answersMs.at(-1)!);
    expect(e.deadlineMs(mb16, 0, 16)).toBeGreaterThan(answersMs.at(-1)!);
    answersMs.slice(4).forEach(answer);
    // the stalled 16th part is still hedged within 3× the wave's median, and after its last healthy answer
    const stallHedgeMs = e.hedgeAfterMs(mb16, 0.95, 16)!;
    expect(stallHedgeMs).toBeGreaterThan(answersMs.at(-1)!);
    expect(stallHedgeMs).toBeLessThan(3 * medianMs);
  });

  it('a large write\'s wait after its body: known after 8 uncut samples, hedged past 1.5 × its p95 (at the concurrency it was learnt at), never before 100 ms', () => {
    const e = new DeadlineEstimator(cfg({ bandwidthSampleBytes: 1 << 20 }));
    const mb16 = 16e6;
    for (let i = 0; i < 7; i++) e.record(mb16, 1000, 4, false, 300 + i * 10);
    e.record(mb16, 5000, 4, true, 4000); // cut: a lower bound, not a sample
    expect(e.hedgeAfterBodyMs(mb16, 0.95, 4)).toBeUndefined();
    e.record(mb16, 1000, 4, false, 370);
    const ms = e.hedgeAfterBodyMs(mb16, 0.95, 4)!;
    expect(ms).toBeGreaterThan(1.5 * 370 * 0.97);
    expect(ms).toBeLessThan(1.5 * 370 * 1.03);
    expect(e.hedgeAfterBodyMs(4096, 0.95, 4)).toBeUndefined(); // small bodies are sent at once
    const quick = new DeadlineEstimator(cfg({ bandwidthSampleBytes: 1 << 20 }));
    for (let i = 0; i < 8; i++) quick.record(mb16, 1000, 4, false, 5);
    expect(quick.hedgeAfterBodyMs(mb16, 0.95, 4)).toBe(100);
  });

  it('a large write\'s wait after its body is learnt per share of the endpoint: with more bodies in flight it is longer', () => {
    const e = new DeadlineEstimator(cfg({ bandwidthSampleBytes: 1 << 20 }));
    const mb16 = 16e6;
    // the waits the bench H5l probes saw: ~40 ms per request sharing the endpoint
    for (let i = 0; i < 8; i++) e.record(mb16, 1000, 4, false, 160);
    const alone = e.hedgeAfterBodyMs(mb16, 0.95, 4)!;
    expect(alone).toBeGreaterThan(1.5 * 160 * 0.97);
    expect(alone).toBeLessThan(1.5 * 160 * 1.03);
    expect(e.hedgeAfterBodyMs(mb16, 0.95, 16)).toBeCloseTo(4 * alone, 6);
  });

  it('hedges that lose stretch the hedge delay (a small request\'s to 2.2× its median at most); one that wins puts it back', () => {
    const e = new DeadlineEstimator(cfg({ tailMinSamples: 100 }));
    for (let i = 0; i < 200; i++) e.record(small, 20 + (i % 20));
    const base = e.hedgeAfterMs(small, 0.95)!;
    const medianMs = e.smallQuantileMs(0.5)!;
    e.hedgeOutcome(false);
    expect(e.hedgeAfterMs(small, 0.95)!).toBeCloseTo(base * 1.1, 6);
    for (let i = 0; i < 50; i++) e.hedgeOutcome(false);
    // stretched 4× the p95 (~38 ms) would be ~150 ms, 5× the median: a timer late by a median cut stragglers past 3×
    expect(e.hedgeAfterMs(small, 0.95)!).toBeCloseTo(2.2 * medianMs, 6);
    // a straggler the budget refused a hedge is cut and sent again by the same bound
    expect(e.cutAfterMs(small)!).toBeCloseTo(2.2 * medianMs, 6);
    const deadline = e.deadlineMs(small, 0);
    e.hedgeOutcome(true);
    expect(e.hedgeAfterMs(small, 0.95)!).toBe(base);
    expect(e.deadlineMs(small, 0)).toBe(deadline); // the deadline does not follow the hedge delay
  });

  it('"MBps est" of a small request is its class\'s own rate, not the bandwidth prior', () => {
    const e = new DeadlineEstimator(cfg({ expectedMBps: 10 }));
    for (let i = 0; i < 10; i++) e.record(4000, 20); // 4 kB in 20 ms = 0.2 MB/s
    expect(e.mbpsFor(4000)).toBeCloseTo(0.2, 6);
    expect(e.mbpsFor(16e6)).toBe(e.mbps);
  });
});
