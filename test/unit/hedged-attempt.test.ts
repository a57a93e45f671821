/**
 * HedgedAttempt (src/engine/hedged-attempt.ts) on a fake clock, with scripted hooks: when a hedge
 * is refused, when the race asks again.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HedgedAttempt, type HedgeHooks } from '../../src/engine/hedged-attempt.js';
import { AttemptStop } from '../../src/endpoints/stop-signal.js';

beforeEach(() => { vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }); });
afterEach(() => { vi.useRealTimers(); });

/** Hooks whose every hedge the budget refuses; `cutInstead` answers from `cuts`, in turn. */
function refusingHooks(cuts: Array<true | number | undefined>) {
  const cutAsked: number[] = [];
  const hooks: HedgeHooks<string> = {
    mayHedge: () => true,
    sendHedge: () => ({ sent: false, refused: 'budget' }),
    hedgeAfterMsNow: () => 1000,
    afterBodyWaitMs: () => undefined,
    hedgesLost: () => {},
    cutInstead: () => { cutAsked.push(performance.now()); return cuts.shift(); },
  };
  return { hooks, cutAsked };
}

/** A small first copy's race, hedge time 1,000 ms, started 1,000 ms ago: due now (as the StragglerWatch hands it on). */
function dueRace(hooks: HedgeHooks<string>): HedgedAttempt<string> {
  return new HedgedAttempt(() => hooks, 1000, 2, new AttemptStop(), performance.now() - 1000);
}

describe('HedgedAttempt: a refused hedge', () => {
  it('is asked for again after a quarter of the hedge time when the first copy may not be cut', () => {
    const { hooks, cutAsked } = refusingHooks([undefined, undefined]);
    const t0 = performance.now();
    dueRace(hooks).hedgeNow();
    vi.advanceTimersByTime(249);
    expect(cutAsked.map((t) => t - t0)).toEqual([0]);
    vi.advanceTimersByTime(1);
    expect(cutAsked.map((t) => t - t0)).toEqual([0, 250]);
  });

  it('is asked for again when the first copy may be cut, not a quarter of the hedge time later', () => {
    // the cut is due in 37 ms: asked then, and cut
    const { hooks, cutAsked } = refusingHooks([37, true]);
    const t0 = performance.now();
    dueRace(hooks).hedgeNow();
    vi.advanceTimersByTime(36);
    expect(cutAsked).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(cutAsked.map((t) => t - t0)).toEqual([0, 37]);
    // cut: the race asks nothing more
    vi.advanceTimersByTime(5000);
    expect(cutAsked).toHaveLength(2);
  });

  it('is asked for again after a quarter of the hedge time when the cut is further off than that', () => {
    const { hooks, cutAsked } = refusingHooks([400, undefined]);
    const t0 = performance.now();
    dueRace(hooks).hedgeNow();
    vi.advanceTimersByTime(250);
    expect(cutAsked.map((t) => t - t0)).toEqual([0, 250]);
  });
});
