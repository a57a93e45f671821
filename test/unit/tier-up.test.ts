/**
 * The CLI's V8 tier-up policy (src/cli/tier-up.ts): the interrupt budget is raised once for a run
 * of many small objects, put back once when large ones show up, and never set on another V8.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_INTERRUPT_BUDGET, MIN_FILES_DONE, MIN_FILES_FOUND, SMALL_MEAN_BYTES, SMALL_RUN_INTERRUPT_BUDGET,
  TierUpPolicy, tierUpForRun, type RunShape,
} from '../../src/cli/tier-up.js';
import { silentLogger } from '../../src/logger.js';

const KIB = 1024;
const small = (filesFound: number, filesDone: number): RunShape => ({ filesFound, bytesFound: filesFound * 4 * KIB, filesDone });

function recorded(): { policy: TierUpPolicy; set: number[] } {
  const set: number[] = [];
  return { policy: new TierUpPolicy((b) => set.push(b)), set };
}

describe('TierUpPolicy', () => {
  it('raises the budget once a run of many small files has done a few', () => {
    const { policy, set } = recorded();
    policy.observe(small(2000, 0));
    policy.observe(small(2000, MIN_FILES_DONE - 1));
    expect(set).toEqual([]);
    policy.observe(small(2000, MIN_FILES_DONE));
    policy.observe(small(2000, 500));
    expect(set).toEqual([SMALL_RUN_INTERRUPT_BUDGET]);
  });

  it('keeps the default for few files, and for large ones however many', () => {
    const { policy, set } = recorded();
    policy.observe(small(MIN_FILES_FOUND - 1, 400));
    policy.observe({ filesFound: 5000, bytesFound: 5000 * (SMALL_MEAN_BYTES + 1), filesDone: 4000 });
    expect(set).toEqual([]);
  });

  it('waits for a walk whose first files were large, then raises once the mean is small', () => {
    const { policy, set } = recorded();
    policy.observe({ filesFound: 2, bytesFound: 2 * 64 * 1024 * KIB, filesDone: 0 });
    policy.observe({ filesFound: 1000, bytesFound: 2 * 64 * 1024 * KIB + 998 * KIB, filesDone: 40 });
    expect(set).toEqual([SMALL_RUN_INTERRUPT_BUDGET]);
  });

  it('puts the default back once large objects make the mean large, and never raises again', () => {
    const { policy, set } = recorded();
    policy.observe(small(1000, 100));
    policy.observe({ filesFound: 1001, bytesFound: 1000 * 4 * KIB + 1024 * 1024 * KIB, filesDone: 200 });
    policy.observe(small(100_000, 50_000));
    expect(set).toEqual([SMALL_RUN_INTERRUPT_BUDGET, DEFAULT_INTERRUPT_BUDGET]);
  });

  it('property: at most a raise then a restore, each when the report at that moment called for it', () => {
    const shape = fc.record({ filesFound: fc.nat(20_000), bytesFound: fc.nat(2 ** 40), filesDone: fc.nat(20_000) });
    fc.assert(fc.property(fc.array(shape, { maxLength: 40 }), (reports) => {
      const set: Array<{ budget: number; at: RunShape }> = [];
      let current: RunShape | undefined;
      const policy = new TierUpPolicy((budget) => set.push({ budget, at: current! }));
      for (const r of reports) { current = r; policy.observe(r); }
      expect(set.map((s) => s.budget)).toEqual([SMALL_RUN_INTERRUPT_BUDGET, DEFAULT_INTERRUPT_BUDGET].slice(0, set.length));
      const isSmall = (r: RunShape): boolean => r.filesFound > 0 && r.bytesFound <= r.filesFound * SMALL_MEAN_BYTES;
      if (set[0]) expect(isSmall(set[0].at) && set[0].at.filesFound >= MIN_FILES_FOUND && set[0].at.filesDone >= MIN_FILES_DONE).toBe(true);
      if (set[1]) expect(isSmall(set[1].at)).toBe(false);
    }));
  });
});

describe('tierUpForRun', () => {
  const run = (v8: string, env: NodeJS.ProcessEnv): number[] => {
    const set: number[] = [];
    const observe = tierUpForRun(silentLogger, env, v8, (b) => set.push(b));
    observe(small(2000, 100));
    return set;
  };

  it('sets the flag on Node 20\'s V8 (11.3)', () => {
    expect(run('11.3.244.8-node.33', {})).toEqual([SMALL_RUN_INTERRUPT_BUDGET]);
  });

  it('a setter that throws does not reach the transfer', () => {
    const observe = tierUpForRun(silentLogger, {}, '11.3.244.8-node.33', () => { throw new Error('flags frozen'); });
    expect(() => observe(small(2000, 100))).not.toThrow();
  });

  it('leaves another V8, and S3X_V8_TIER_UP=default, alone', () => {
    expect(run('12.4.254.21-node.33', {})).toEqual([]);
    expect(run('11.3.244.8-node.33', { S3X_V8_TIER_UP: 'default' })).toEqual([]);
  });
});
