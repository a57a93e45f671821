/**
 * One attempt's race: its first copy and the hedges sent when it straggles (./request.ts decides
 * whether it may be hedged and sends the copies; ./hedge-policy.ts which operations and how many).
 * Settles with the first answer; every copy that did not answer first is aborted with HedgeLost.
 */
import { clampTimerMs } from '../config/units.js';
import { RECEIVE_PAUSE_MS, type Endpoint } from '../endpoints/endpoint.js';
import { AttemptStop } from '../endpoints/stop-signal.js';

/**
 * A copy that answered: its result, its endpoint, its own duration, whether it was a hedge;
 * `afterBodyMs`: from its last body byte handed to the socket to the answer (signed bodies only).
 */
export interface Answer<T> { result: T; ep: Endpoint; ms: number; hedge: boolean; afterBodyMs?: number }

/** The abort reason of a copy that lost to another (hedge or first copy). */
export class HedgeLost extends Error {
  readonly code = 'HedgeLost';
  constructor() { super('the other copy answered first'); this.name = 'HedgeLost'; }
}

/**
 * How often a race asks again, ms, while what it needs is not known yet: a large request's hedge
 * time or (its body all sent) its endpoint's usual wait after a body, while too few samples say
 * it; a write's bucket versioning, while that is being asked. A large write whose body is all
 * sent asks its wait again as often once it is known, sized for the requests in flight then
 * (bodySent). The deadline of a large request that the prior sized asks as often whether its
 * endpoint has learnt (engine/request.ts).
 */
export const RECHECK_MS = 100;
/**
 * A hedge the budget or the pool refused (or held back while no later request had answered on
 * its endpoint) is asked for again after this share of the hedge time
 * (at least ASK_AGAIN_MIN_MS) while its first copy runs: a late answer waited for its deadline,
 * 20× the median, when the endpoint's hedge places were taken at the moment its hedge was due
 * (bench H3: 1 answer in 20 late, 2 hedge places at 16 in flight).
 */
const ASK_AGAIN_SHARE = 0.25;
const ASK_AGAIN_MIN_MS = 10;
/**
 * A large read whose body has begun and then heard nothing for SILENT_MS while its endpoint went
 * on sending bytes to other reads has stalled, whatever its hedge time says: it is hedged then
 * (asked every RECHECK_MS). Healthy 16 MiB parts, 16 at a time on the local gateway, went silent
 * mid-body for 0.5 s at most (160 parts); before their first byte they waited up to 1.4 s while
 * the others streamed (the gateway queues them), so silence before it tells nothing.
 */
export const SILENT_MS = 1000;

/**
 * A hedge of a silent read that has not heard its first byte HEDGE_FIRST_BYTE_MS after it was
 * sent, while its endpoint went on sending bytes to other reads, is silent too (watchBothSilent):
 * 2× the longest wait for a first byte among healthy parts (1.4 s, the probe of SILENT_MS), so a
 * hedge the gateway queues is not taken for a stall. A first copy's wait is not counted: it is
 * hedged only once its body has begun and stopped.
 */
export const HEDGE_FIRST_BYTE_MS = 3000;

/** When a large read's copy last received body bytes, against the other reads on its endpoint (SILENT_MS). */
export class ReadSilence {
  private receivedAt: number | undefined;
  /** before its first byte, silence counts from this performance.now() (never for a first copy) */
  private readonly firstByteSilentFromMs: number;
  /** `hedge`: the copy is a hedge, whose wait for its first byte counts past HEDGE_FIRST_BYTE_MS */
  constructor(readonly ep: Endpoint, hedge = false) {
    this.firstByteSilentFromMs = hedge ? performance.now() + HEDGE_FIRST_BYTE_MS - SILENT_MS : Infinity;
  }
  /** bytes of its body arrived now: pass it on as the copy's AttemptProgress.received */
  readonly heard = (): void => {
    this.receivedAt = performance.now();
    this.ep.received(this.receivedAt);
  };

  /**
   * ms this copy has been silent: how long the endpoint's other reads went on receiving bytes
   * since its last (before its first, 0; a hedge: counted from HEDGE_FIRST_BYTE_MS − SILENT_MS
   * after it was sent). The quiet from its last bytes to now counts whole when:
   * - the endpoint has no request in flight but `copies` (this race's on it): there is no other
   *   read to compare with (bench H4d probes: a part and its hedge both stalled at a run's end,
   *   the other parts done, waited for the first copy's deadline, 7.5 s, 14× the median part);
   * - it was silent RECEIVE_PAUSE_MS while others received: that is no pause of the endpoint, and
   *   the quiet after their last bytes counts too (H4d probes: two parts stalled at a run's end
   *   each waited for the other to receive, 0.63 s of silence stuck, first cut at 3.1-4.1×).
   */
  silentMs(copies: number): number {
    const now = performance.now();
    const from = this.receivedAt ?? this.firstByteSilentFromMs;
    if (this.ep.stats.inFlight <= copies) return Math.max(0, now - from);
    const againstOthersMs = Math.max(0, this.ep.lastReceivedMs - Math.max(from, this.ep.receivingSinceMs));
    return this.receivedAt !== undefined && againstOthersMs >= RECEIVE_PAUSE_MS ? againstOthersMs + now - this.ep.lastReceivedMs : againstOthersMs;
  }
}

/** Why a hedge did not go: the budget had none, no endpoint had a hedge place, or --tpslimit/--bwlimit holds its endpoint. */
export type HedgeRefusal = 'budget' | 'place' | 'limit';

/** What the race needs from the engine. */
export interface HedgeHooks<T> {
  /** may a hedge go now (a write: only once its bucket's versioning is known to be off); undefined while that is being asked */
  mayHedge(): boolean | undefined;
  /** sends a hedge aborted by `ac`: its answer (undefined: cut or failed) and, a large read, its silence; or why it did not go */
  sendHedge(ac: AttemptStop): { sent: true; answer: Promise<Answer<T> | undefined>; silence?: ReadSilence | undefined } | { sent: false; refused: HedgeRefusal };
  /** the hedge time, ms from the first copy's start (a large request's sized for the requests sharing its endpoint now); undefined while its endpoint has too few samples */
  hedgeAfterMsNow(): number | undefined;
  /** a large write's allowed wait after its body, ms, sized for the requests in flight on its endpoint now (undefined while it has too few samples) */
  afterBodyWaitMs(): number | undefined;
  /** the first copy answered while hedges of it were in flight: they were sent too early */
  hedgesLost(): void;
  /**
   * a hedge was refused (`refused`) and none is in flight: cut the first copy to be sent again
   * instead (the engine decides whether). True when it did; else ms from now when it may (the
   * race asks again by then), or undefined when it may not.
   */
  cutInstead(refused: HedgeRefusal): true | number | undefined;
}

/**
 * The race of one attempt whose first copy straggles: started with the copy for a large request
 * (start()), and by the engine's StragglerWatch (./straggler-watch.ts) for a small one once it
 * has run past its hedge time (hedgeNow()): most small requests answer before it (a 2,000-file
 * upload made 1,886 races, 3-4 of whose timers fired). In an engine microbenchmark that took
 * hedging's own work from 8.2 to 5.1 us a request; the CLI's client CPU did not move (30 pairs,
 * docs/benchmarks.md, second session of 2026-12-04). The engine passes the first copy's
 * settling in (firstAnswered, firstFailed); a hedge that answers first aborts the first copy
 * with HedgeLost, and its answer is what the first copy's promise settles with.
 */
export class HedgedAttempt<T> {
  private done = false;
  private firstError: { err: unknown } | undefined;
  /** a hedge's answer that came first */
  private winner: Answer<T> | undefined;
  /** the first copy failed while hedges ran: settled by the hedges' end */
  private afterFirst: { resolve: (a: Answer<T>) => void; reject: (err: unknown) => void } | undefined;
  /** one per hedge sent, made then: aborting a controller nobody listens to costs an Error per request */
  private readonly hedges: AttemptStop[] = [];
  /** hedges sent and not settled yet (one the budget or the pool refused is never tracked) */
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private recheck: NodeJS.Timeout | undefined;
  /** performance.now() when the hedge time, as last asked, runs out (a large read is looked at sooner for its silence) */
  private dueAt: number;
  /** whether the timer is set from the body's end instead (bodySent) */
  private timedByBody = false;
  private hooksMade: HedgeHooks<T> | undefined;

  /**
   * `makeHooks` is called once, when they are first needed (a large request's race mostly ends
   * without). `afterMs`: the hedge time, from `startedAt` (performance.now() when the first copy
   * was sent; undefined: not known yet, a large request early in a run: asked again every
   * RECHECK_MS); `maxHedges`: hedges at most (a hedge as slow as its first copy gets one of its
   * own); `first`: the first copy's stop; `silence`: a large read's first copy, what it last heard.
   */
  constructor(private readonly makeHooks: () => HedgeHooks<T>, private afterMs: number | undefined, private readonly maxHedges: number,
    private readonly first: AttemptStop, private readonly startedAt: number, private readonly silence?: ReadSilence) {
    this.dueAt = startedAt + (afterMs ?? RECHECK_MS);
  }

  private get hooks(): HedgeHooks<T> {
    return (this.hooksMade ??= this.makeHooks());
  }

  /** Arms the hedge timer (a large request, from its start). */
  start(): void {
    this.timer = setTimeout(() => this.fire(), clampTimerMs(this.untilCheckMs(this.dueAt - performance.now())));
  }

  /** The first copy has run past its hedge time: hedge it now (a small request, from the StragglerWatch). */
  hedgeNow(): void {
    this.fire();
  }

  /** The first copy answered: the answer its request takes (a hedge's, when one came first). */
  firstAnswered(answer: Answer<T>): Answer<T> {
    if (this.winner) return this.winner;
    const lost = this.inFlight > 0;
    this.finish();
    if (lost) this.hooks.hedgesLost();
    return answer;
  }

  /** The first copy failed (or was aborted for a hedge that came first): a hedge's answer, or its error once no copy can answer. */
  firstFailed(err: unknown): Promise<Answer<T>> {
    if (this.winner) return Promise.resolve(this.winner);
    this.firstError = { err };
    if (this.inFlight === 0 || this.done) {
      this.finish();
      return Promise.reject(err);
    }
    return new Promise<Answer<T>>((resolve, reject) => { this.afterFirst = { resolve, reject }; });
  }

  /**
   * The first copy's body is all handed to the socket (at `sentAt`, performance.now()): with no
   * answer past its endpoint's usual wait after a body, hedge then (a stall mid-body upstream
   * shows as silence after the last byte; bench H4), sooner or later than its time: a body that
   * went slowly and then waits as usual is no straggler, and a copy would only send it again
   * (healthy 64 MiB uploads hedged parts at their time, none won). Early in a run that wait is
   * not known yet. Asked again every RECHECK_MS: the wait is sized for the requests sharing the
   * endpoint now, and shrinks as they finish (bench H4 probes: a stalled part's body went in
   * 60-400 ms among 16, its wait was sized 1.8-2.7 s for them, and it was hedged at 2.4-3.9× the
   * median part with 2 or 3 left in flight).
   */
  bodySent(sentAt: number): void {
    if (this.done || this.hedges.length > 0) return;
    const waitMs = this.hooks.afterBodyWaitMs();
    if (waitMs !== undefined) {
      this.timedByBody = true;
      clearTimeout(this.timer);
      this.timer = undefined;
      if (performance.now() >= sentAt + waitMs - 1) return this.fire();
    }
    clearTimeout(this.recheck);
    this.recheck = setTimeout(() => this.bodySent(sentAt), clampTimerMs(waitMs === undefined ? RECHECK_MS : Math.min(RECHECK_MS, sentAt + waitMs - performance.now())));
  }

  private fire(): void {
    if (this.done) return;
    const may = this.hooks.mayHedge();
    if (may === undefined) {
      // a far endpoint's versioning answer may come after the hedge time: asked again until it does
      this.timer = setTimeout(() => this.fire(), RECHECK_MS);
      return;
    }
    if (!may) return;
    if (this.hedges.length === 0 && !this.timedByBody && this.notDue()) return;
    const afterMs = this.afterMs ?? RECHECK_MS;
    const ac = new AttemptStop();
    const hedge = this.hooks.sendHedge(ac);
    if (!hedge.sent) {
      // cut: the first copy rejects, and the race with it
      const cut = this.inFlight === 0 ? this.hooks.cutInstead(hedge.refused) : undefined;
      if (cut === true) return;
      const askAgainMs = Math.max(ASK_AGAIN_MIN_MS, afterMs * ASK_AGAIN_SHARE);
      this.timer = setTimeout(() => this.fire(), clampTimerMs(cut === undefined ? askAgainMs : Math.min(askAgainMs, cut)));
      return;
    }
    this.hedges.push(ac);
    this.inFlight++;
    // a hedge as slow as its first copy is a straggler too: one more after as long again
    if (this.hedges.length < this.maxHedges) this.timer = setTimeout(() => this.fire(), clampTimerMs(afterMs));
    else if (hedge.silence && this.hedges.length === this.maxHedges) this.watchBothSilent(hedge.silence);
    void hedge.answer.then((a) => {
      this.inFlight--;
      if (a && !this.done) {
        this.winner = a;
        this.finish(ac);
        this.first.abort(new HedgeLost());
        this.afterFirst?.resolve(a);
      } else if (!a && this.firstError && this.inFlight === 0 && !this.done) {
        this.finish();
        this.afterFirst?.reject(this.firstError.err);
      }
    });
  }

  /**
   * Is the first copy's hedge not due yet? Then the timer is set again and true is returned.
   * - A large copy's hedge time is sized for the requests sharing its endpoint when it started;
   *   when more share it now, it is later (as its deadline is: engine/request.ts armDeadline).
   *   Bench H5l probes: parts started between waves (3-9 in flight) were hedged at 0.4-0.7× their
   *   time once 16 shared the endpoint, and every hedge lost.
   * - A large copy that started before its endpoint had measured enough parts waits for them
   *   (bench H4 probes: a part stalled in a run's first wave was cut only by the deadline made
   *   from the prior, 10-20 s, at 13-29× the run's median part, in 2 of 12 runs).
   */
  private notDue(): boolean {
    if (this.silence && this.silence.silentMs(1) >= SILENT_MS) return false;
    const now = performance.now();
    // the hedge time is asked again only when it runs out; before that only the silence is looked
    // at (asked every RECHECK_MS, a momentary dip of it hedged healthy parts: 4 of 19 downloads)
    if (now >= this.dueAt - 1) {
      const afterMs = this.hooks.hedgeAfterMsNow();
      this.dueAt = afterMs === undefined ? now + RECHECK_MS : this.startedAt + afterMs;
      if (afterMs !== undefined) this.afterMs = afterMs;
      if (this.dueAt - now <= 1) return false;
    }
    this.timer = setTimeout(() => this.fire(), clampTimerMs(this.untilCheckMs(this.dueAt - now)));
    return true;
  }

  /**
   * A large read's hedge that stops too, while its first copy is still silent, gets one more: both
   * would otherwise wait for the first copy's deadline (bench H4d: the proxy stalls 1 part GET in
   * 20, hedges included). Looked at every RECHECK_MS; silent against the endpoint's other reads,
   * or as it is when the two copies are all their endpoints have in flight.
   */
  private watchBothSilent(hedge: ReadSilence): void {
    this.timer = setTimeout(() => {
      if (this.done || this.inFlight === 0) return;
      const first = this.silence;
      // this race's copies on each one's endpoint
      const copiesHere = first?.ep === hedge.ep ? 2 : 1;
      const silent = (s: ReadSilence | undefined): boolean => s !== undefined && s.silentMs(copiesHere) >= SILENT_MS;
      if (silent(hedge) && silent(first)) this.fire();
      else this.watchBothSilent(hedge);
    }, RECHECK_MS);
  }

  /** When to look again, ms from now: `leftMs`, or sooner to hear whether a large read has gone silent. */
  private untilCheckMs(leftMs: number): number {
    return this.silence ? Math.min(leftMs, RECHECK_MS) : leftMs;
  }

  /** The race is over: its timers cleared, every hedge but `winner` aborted. */
  private finish(winner?: AttemptStop): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.recheck);
    for (const h of this.hedges) if (h !== winner) h.abort(new HedgeLost());
  }
}
