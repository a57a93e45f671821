/**
 * V8's tier-up, tuned for a run of many small objects. V8 optimises a function in TurboFan once
 * ~66 KB of its bytecode has run (its --interrupt-budget, checked again every budget); a run of
 * thousands of small objects compiled ~150 functions that way, ~20% of its client CPU on a
 * 2-core machine it shares with the gateway (docs/benchmarks.md, `perf` of S1 and S6s). With 8×
 * the budget only the hottest few are optimised. A large object's per-chunk functions need the
 * default (run 44: 4 × 64 MiB took +21% CPU at 8×), so the budget is raised only while the run's
 * objects are small on average, and put back, once, when they no longer are.
 *
 * The CLI's alone: a V8 flag belongs to the whole process, so the library never sets one. Only on
 * V8 11.3 (Node 20), where it was measured. Once a flag differs from its default, a worker thread
 * started later compiles Node's internals from source (+~58 ms of CPU each), so the budget is
 * raised only after the run's first files, by when download's writer threads are running.
 */
import { createRequire } from 'node:module';
import type { Logger } from '../index.js';

/** V8 11.3's default --interrupt-budget: bytes of a function's bytecode run between its tier-up checks. */
export const DEFAULT_INTERRUPT_BUDGET = 67_584;
/** The budget while a run's objects are small on average. */
export const SMALL_RUN_INTERRUPT_BUDGET = 8 * DEFAULT_INTERRUPT_BUDGET;
/** A run of fewer files has few functions hot enough to compile (a chosen line, not a measured one). */
export const MIN_FILES_FOUND = 500;
/** Files done before the budget is raised: download's writer threads start at its 4th file. */
export const MIN_FILES_DONE = 32;
/** Objects of at most this mean size are small (download buffers objects up to this size). */
export const SMALL_MEAN_BYTES = 256 * 1024;

/** What a transfer's progress says about its shape (upload, sync and download all report these). */
export interface RunShape { filesFound: number; bytesFound: number; filesDone: number }

/**
 * Decides from each progress report: raises the budget once (many files found, small on average,
 * a few done) and puts the default back once the mean size found grows past small; never raises
 * it again after that.
 */
export class TierUpPolicy {
  private state: 'default' | 'raised' | 'settled' = 'default';

  /** `setBudget`: sets V8's --interrupt-budget (tests pass a recorder). */
  constructor(private readonly setBudget: (budget: number) => void) {}

  observe(p: RunShape): void {
    const small = p.filesFound > 0 && p.bytesFound <= p.filesFound * SMALL_MEAN_BYTES;
    if (this.state === 'default') {
      if (small && p.filesFound >= MIN_FILES_FOUND && p.filesDone >= MIN_FILES_DONE) {
        this.state = 'raised';
        this.setBudget(SMALL_RUN_INTERRUPT_BUDGET);
      }
    } else if (this.state === 'raised' && !small) {
      this.state = 'settled';
      this.setBudget(DEFAULT_INTERRUPT_BUDGET);
    }
  }
}

/** node:v8 loaded only when a run raises the budget (not at every command's start). */
function setInterruptBudget(budget: number): void {
  const { setFlagsFromString } = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  setFlagsFromString(`--interrupt-budget=${budget}`);
}

/**
 * The policy for this process's run: V8's flag on Node 20's V8 (11.3), else nothing;
 * `S3X_V8_TIER_UP=default` in the environment keeps V8's default (for comparisons).
 */
export function tierUpForRun(
  logger: Logger, env: NodeJS.ProcessEnv = process.env, v8Version = process.versions.v8, setBudget = setInterruptBudget,
): (p: RunShape) => void {
  if (!v8Version.startsWith('11.3.') || env.S3X_V8_TIER_UP === 'default') return () => {};
  const policy = new TierUpPolicy((budget) => {
    // a tuning only: a flag V8 refuses must not stop the transfer it is called from
    try {
      setBudget(budget);
      logger.debug({ interruptBudget: budget }, 'V8 tier-up budget set');
    } catch (err) {
      logger.debug({ interruptBudget: budget, err: err instanceof Error ? err.message : String(err) }, 'V8 tier-up budget not set');
    }
  });
  return (p) => policy.observe(p);
}
