import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_HISTOGRAM, LatencyHistogram } from '../../src/endpoints/latency-histogram.js';

/** The exact sample quantile the histogram estimates: the sample at rank ⌈q·n⌉. */
function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length - 1e-9)) - 1]!;
}

describe('LatencyHistogram', () => {
  it('answers every quantile within its relative error of the exact one (no decay)', () => {
    const relativeError = 0.02;
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0.1, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 400 }),
      fc.double({ min: 0.001, max: 1, noNaN: true }),
      (values, q) => {
        const h = new LatencyHistogram({ ...DEFAULT_HISTOGRAM, relativeError, halfLifeSamples: Infinity });
        for (const v of values) h.record(v);
        const exact = exactQuantile(values, q);
        const got = h.quantile(q)!;
        expect(Math.abs(got - exact) / exact).toBeLessThanOrEqual(relativeError * (1 + 1e-9));
      },
    ), { numRuns: 300 });
  });

  it('is undefined before any sample, and ignores NaN and negative values', () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.99)).toBeUndefined();
    h.record(Number.NaN);
    h.record(-1);
    expect(h.quantile(0.5)).toBeUndefined();
    expect(h.samples).toBe(0);
  });

  it('follows a change: after a few half-lives the old samples no longer set the p99', () => {
    const h = new LatencyHistogram({ ...DEFAULT_HISTOGRAM, halfLifeSamples: 100 });
    for (let i = 0; i < 1000; i++) h.record(i % 100 === 0 ? 1000 : 20); // 1% at 1 s
    expect(h.quantile(0.995)!).toBeGreaterThan(900);
    for (let i = 0; i < 800; i++) h.record(20); // 8 half-lives of quiet: the old tail weighs < 1/256
    expect(h.quantile(0.995)!).toBeLessThan(21);
    expect(h.samples).toBe(1800);
  });

  it('answers a quantile again until the samples have grown by 1/32 since it was scanned, then scans anew', () => {
    const h = new LatencyHistogram({ ...DEFAULT_HISTOGRAM, halfLifeSamples: Infinity });
    for (let i = 0; i < 320; i++) h.record(10);
    expect(h.quantile(0.99)!).toBeCloseTo(10, -1);
    // 9 samples of 1 s (2.7%): the p99 now, but fewer than 320/32 new samples, so the last answer holds
    for (let i = 0; i < 9; i++) h.record(1000);
    expect(h.quantile(0.99)!).toBeCloseTo(10, -1);
    // a quantile not asked before is scanned at once
    expect(h.quantile(0.999)!).toBeGreaterThan(900);
    for (let i = 0; i < 2; i++) h.record(1000);
    expect(h.quantile(0.99)!).toBeGreaterThan(900);
  });

  it('clamps values outside its range to its end buckets', () => {
    const h = new LatencyHistogram({ ...DEFAULT_HISTOGRAM, halfLifeSamples: Infinity });
    h.record(0);
    expect(h.quantile(1)).toBe(DEFAULT_HISTOGRAM.minValue);
    h.record(1e12);
    expect(h.quantile(1)!).toBeLessThanOrEqual(DEFAULT_HISTOGRAM.maxValue * 1.03);
    expect(h.quantile(1)!).toBeGreaterThan(DEFAULT_HISTOGRAM.maxValue * 0.97);
  });
});
