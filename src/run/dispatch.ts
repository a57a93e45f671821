/**
 * The objects of a run in progress at once (upload's files, download's objects, delete's
 * batches): at most `places`. An item is taken only when it can start, so the producer (a walk,
 * a listing) waits instead of piling work up, and nothing new starts once the run stopped.
 */
import { Limiter } from '../engine/limiter.js';

/** What a dispatch needs of its run (src/run/run.ts): its signal and its not-attempted count. */
export interface DispatchingRun {
  readonly signal: AbortSignal;
  notAttempted: number;
}

export class Dispatch {
  private readonly gate: Limiter;
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly run: DispatchingRun, places: number) {
    this.gate = new Limiter(places);
  }

  /** Waits for a free place; then call start() or giveBack(). */
  wait(): Promise<void> {
    return this.gate.acquire();
  }

  /** A place from wait() not used (no item, or an item not to be started). */
  giveBack(): void {
    this.gate.release();
  }

  /**
   * In a place from wait(): starts `work`, or, once the run stopped, counts its `items` as not
   * attempted and gives the place back. Says whether it started. `work` handles its own errors.
   */
  start(work: () => Promise<void>, items = 1): boolean {
    if (this.run.signal.aborted) {
      this.gate.release();
      this.run.notAttempted += items;
      return false;
    }
    const p = work().finally(() => { this.gate.release(); this.running.delete(p); });
    this.running.add(p);
    return true;
  }

  /** wait() then start(); a stopped run does not wait at all. */
  async take(work: () => Promise<void>, items = 1): Promise<boolean> {
    if (this.run.signal.aborted) { this.run.notAttempted += items; return false; }
    await this.wait();
    return this.start(work, items);
  }

  /** Waits for the started items; rejects with the first failure. */
  async drain(): Promise<void> {
    await Promise.all(this.running);
  }

  /** Waits for the started items, whatever happened. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.running);
  }
}
