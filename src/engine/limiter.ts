/**
 * A counting semaphore with two priority lanes. Every S3 request takes one slot, so small
 * files and the parts of large files share one pool of `--concurrency` slots; parts of files
 * already started go in the HIGH lane so open multipart uploads finish before new files start.
 */
export type Lane = 'high' | 'normal';

export class Limiter {
  private active = 0;
  private readonly high: Array<() => void> = [];
  private readonly normal: Array<() => void> = [];

  constructor(readonly slots: number) {
    if (!(slots >= 1)) throw new RangeError(`slots must be ≥ 1, got ${slots}`);
  }

  /** Slots in use now. */
  get inUse(): number { return this.active; }
  /** Callers waiting for a slot. */
  get waiting(): number { return this.high.length + this.normal.length; }

  /** Resolves when a slot is yours; call `release()` exactly once afterwards. */
  acquire(lane: Lane = 'normal'): Promise<void> {
    if (this.active < this.slots) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => (lane === 'high' ? this.high : this.normal).push(resolve));
  }

  release(): void {
    const next = this.high.shift() ?? this.normal.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.active--;
  }

  /** Runs `fn` inside a slot. */
  async run<T>(fn: () => Promise<T>, lane: Lane = 'normal'): Promise<T> {
    await this.acquire(lane);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}
