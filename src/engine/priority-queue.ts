/**
 * Bounded FIFO queue with three priority lanes between the directory walk and the uploaders:
 * HIGH files (e.g. manifests) are dispatched before NORMAL before LOW among those the walk has
 * found so far. The bound keeps memory flat: the walk waits when `capacity` files are queued, so
 * ordering is best effort within that window (upload's `priorityWindow`, 2,000 files by default).
 */
export const PRIORITIES = ['HIGH', 'NORMAL', 'LOW'] as const;
export type Priority = (typeof PRIORITIES)[number];

export class PriorityQueue<T> {
  private readonly lanes: T[][] = [[], [], []];
  private size = 0;
  private closed = false;
  private readonly takers: Array<(v: T | undefined) => void> = [];
  private readonly pushers: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  /** Resolves when the item is queued (waits while the queue is full). */
  async push(item: T, priority: Priority): Promise<void> {
    while (this.size >= this.capacity) await new Promise<void>((r) => this.pushers.push(r));
    const taker = this.takers.shift();
    if (taker) { taker(item); return; }
    this.lanes[PRIORITIES.indexOf(priority)]!.push(item);
    this.size++;
  }

  /** The next item by priority, or undefined once closed and empty. */
  shift(): Promise<T | undefined> {
    for (const lane of this.lanes) {
      if (lane.length > 0) {
        this.size--;
        this.pushers.shift()?.();
        return Promise.resolve(lane.shift());
      }
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((r) => this.takers.push(r));
  }

  /** No more pushes: waiting takers get undefined once the queue drains. */
  close(): void {
    this.closed = true;
    for (const t of this.takers.splice(0)) t(undefined);
  }
}
