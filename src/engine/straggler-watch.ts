/**
 * One timer for the small first copies in flight, instead of a race and a timer for each
 * (./hedged-attempt.ts): it fires when the earliest of them is due to be hedged, hands every copy
 * then past its hedge time and still waiting to the engine (Watched.straggled) and is armed
 * again for the next. Most small requests answer before their hedge time, and a healthy
 * endpoint's answers keep coming, so it fires about once per median request (99 times in a
 * 2,000-file upload to the local gateway), not once per request.
 */
import { clampTimerMs } from '../config/units.js';

/** A first copy the watch looks at. */
export interface Watched {
  /** performance.now() when its hedge time runs out */
  readonly dueAt: number;
  /** true once it answered, failed or was cut: dropped, never hedged by the watch */
  readonly settled: boolean;
  /** called once, when it has run past dueAt and is not settled */
  straggled(): void;
}

export class StragglerWatch {
  /**
   * The copies added since the last look, and those it kept, in the order they were sent. A
   * settled copy is dropped at the next look, so nothing is deleted by key: an array, not a Set
   * (a version with a Set measured 1.018× the client CPU of the races it replaced, 20 pairs).
   */
  private waiting: Watched[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** when the timer fires (Infinity: none armed) */
  private timerDueAt = Infinity;

  add(w: Watched): void {
    this.waiting.push(w);
    if (w.dueAt < this.timerDueAt) this.arm(w.dueAt);
  }

  /** copies kept since the last look, settled or not (tests) */
  get size(): number {
    return this.waiting.length;
  }

  private arm(dueAt: number): void {
    clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(this.sweep, clampTimerMs(dueAt - performance.now()));
    // the copies' own sockets and deadlines keep a run alive; an idle watch must not
    this.timer.unref();
  }

  /**
   * The timer fired: every copy now past its time is handed on, in the timers' phase, before the
   * answers waiting on sockets are read. A look put off until they were (setImmediate) came a
   * busy turn late: bench H3 had up to 16 of the proxy's stragglers a rep first cut past 3x the
   * median, against none (docs/benchmarks.md, third session of 2026-12-04). An answer read just
   * after its copy was hedged makes the hedge a lost one (the race aborts it).
   */
  private readonly sweep = (): void => {
    this.timer = undefined;
    this.timerDueAt = Infinity;
    const now = performance.now();
    const looked = this.waiting;
    this.waiting = [];
    let nextDueAt = Infinity;
    // a timer may fire up to 1 ms before its time by performance.now(): a copy not due yet is
    // kept for the next look, never hedged early
    for (const w of looked) {
      if (w.settled) continue;
      if (w.dueAt <= now) w.straggled();
      else {
        this.waiting.push(w);
        if (w.dueAt < nextDueAt) nextDueAt = w.dueAt;
      }
    }
    if (nextDueAt < this.timerDueAt) this.arm(nextDueAt);
  };
}
