/**
 * The request wrapper every S3 request passes through: route → deadline → send → learn →
 * retry → report. One attempt = one fresh body (the `send` callback builds it), one AttemptStop
 * (../endpoints/stop-signal.ts) whose timer is the whole-request deadline from the endpoint's
 * estimator.
 * An attempt that runs past its endpoint's p95 may be hedged (./hedge-policy.ts): more copies,
 * the first answer taken, the others aborted (./hedged-attempt.ts).
 */
import { setMaxListeners } from 'node:events';
import { DEFAULT_HEDGE, THROTTLE_BUDGET_MS, type HedgeConfig, type RetryConfig } from '../config/defaults.js';
import { clampTimerMs, mbps } from '../config/units.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { EndpointPool } from '../endpoints/pool.js';
import { AttemptStop, type StopSignal } from '../endpoints/stop-signal.js';
import type { Logger } from '../logger.js';
import {
  backoffMs, decide, errorFacts, feedsBreaker, isClockSkew, isThrottle, type Decision, type ErrorFacts,
} from './retry-policy.js';
import { HedgedAttempt, HedgeLost, ReadSilence, RECHECK_MS, type Answer, type HedgeHooks, type HedgeRefusal } from './hedged-attempt.js';
import { HedgeBudget, hedgeKind, overtaken, type Operation } from './hedge-policy.js';
import { StragglerWatch, type Watched } from './straggler-watch.js';

export type { Operation };

/** One line of the per-request table: s3-algo's RequestReport plus key, endpoint and op. */
export interface RequestReport {
  op: Operation;
  key: string;
  /** part number for UploadPart */
  part?: number;
  /** endpoint name of the last attempt */
  endpoint: string;
  bytes: number;
  attempts: number;
  /** duration of the last (successful) attempt, ms */
  successMs: number;
  /** from the first attempt's start to the end, waits included, ms */
  totalMs: number;
  /** bytes / successMs, MB/s */
  mbps: number;
  /** the endpoint's bandwidth estimate when the request finished, MB/s */
  mbpsEst: number;
  ok: boolean;
  /** error code of the last attempt, when !ok */
  error?: string;
  /** the deadline each attempt had, ms, in order */
  deadlinesMs: number[];
  /** when the request started, ms after the engine was made (the run's start): orders a --json timeline */
  startMs: number;
  /** hedges sent for this request (over its attempts) */
  hedged: number;
  /**
   * ms from the request's start to its first cut as a straggler: its first hedge sent, its cut
   * to be sent again in place of a refused hedge, or its first deadline run out, whichever came
   * first (absent when none did)
   */
  cutMs?: number;
  /** a hedge answered first (`endpoint` is then the hedge's) */
  hedgeWon: boolean;
}

/** What an attempt's end tells the pool about its endpoint (endpoints/pool.ts release). */
type Outcome = 'success' | 'failure' | 'throttled' | 'neutral';

/** The attempts of one request so far. */
interface Tries {
  /** attempts that spend `retries` */
  counted: number;
  /** every attempt sent */
  sent: number;
  /** throttled attempts (their backoff exponent) */
  throttled: number;
  /** since the first throttle, performance.now() ms */
  throttledSinceMs?: number;
  /** the clock was corrected once already */
  clockFixed: boolean;
  /** each attempt's deadline, ms */
  deadlinesMs: number[];
  /** hedges sent */
  hedged: number;
  hedgeWon: boolean;
  /** performance.now() of the first hedge sent or deadline run out */
  cutAt?: number;
  /** a first copy was cut and sent again in place of a refused hedge (once per request) */
  resent: boolean;
}

/** What an attempt's `send` tells the engine while it runs. */
export interface AttemptProgress {
  /** the whole request body is handed to the socket: pass it on as a store call's `onBodySent` (set for large bodies only) */
  bodySent?: () => void;
  /** bytes of the answer's body arrived: call it as they are consumed (set for large bodies only; a read's silence hedges it) */
  received?: () => void;
}
const NO_PROGRESS: AttemptProgress = {};
/**
 * Hedges of one attempt of a small request, at most: a hedge as slow as its first copy gets one
 * of its own (bench H3: 1 answer in 20 late, hedges included, so 1 hedge in 20 is late too). A
 * large request gets one: a second copy of a body already sent twice would only crowd the
 * endpoint (a hedged 8 MiB GET on a loaded machine got a second hedge as its first ran normally).
 */
const SMALL_MAX_HEDGES = 2;
/**
 * A small request's hedge time is at least this, ms: Node's timers have 1 ms steps and fire a
 * turn of the event loop late, so a shorter one hedges answers that are on their way (unit
 * tests: fake stores answering in ~1 ms had a warm-up request hedged now and then); real stores
 * answer a small request in 10 ms and more (the local gateway's median is 10-30 ms).
 */
const SMALL_HEDGE_MIN_MS = 3;

export interface RequestSpec<T> {
  op: Operation;
  key: string;
  part?: number;
  /** payload bytes (request body for uploads, expected response body for downloads) */
  bytes: number;
  /**
   * 'read' (GET/HEAD/LIST) or 'write' (everything else; default): the pool routes reads and
   * writes differently in some modes (fallback: reads try each endpoint in order).
   */
  kind?: 'read' | 'write';
  /** the bucket, for bucket-map routing */
  bucket?: string;
  /** send on this endpoint only (multipart parts when endpoints do not share storage) */
  endpoint?: Endpoint;
  /** override of RetryConfig.retries (preflight checks use fewer) */
  retries?: number;
  /** not part of the transfer (preflight): counted in endpoint stats, not reported */
  unreported?: boolean;
  /**
   * first-attempt deadline, ms, for a request whose time is not a function of its bytes (a
   * 1,000-key DeleteObjects: ~3 s on RGW): replaces the estimator's, grows by its backoff per
   * retry, and the request does not teach the estimator. Default: the endpoint's estimator.
   */
  deadlineMs?: number;
  /**
   * the caller's `send` may run twice at once (a fresh body per call; nothing written anywhere
   * before it returns, as a GET into memory): the engine may then hedge it, if its op allows
   * (./hedge-policy.ts). Default false.
   */
  hedge?: boolean;
  /** sends one attempt; must build a fresh body each time and honour `signal` */
  send(endpoint: Endpoint, signal: StopSignal, progress: AttemptProgress): Promise<T>;
}

/** Thrown when a request gives up; carries the decision and the report. */
export class RequestFailed extends Error {
  constructor(readonly facts: ErrorFacts, readonly decision: Decision, readonly report: RequestReport, readonly endpoint: Endpoint) {
    super(`${report.op} ${report.key}${report.part ? ` part ${report.part}` : ''}: ${facts.code}${facts.message && facts.message !== facts.code ? ` (${facts.message})` : ''}`);
    this.name = 'RequestFailed';
  }
}

/** Thrown when the run was aborted (Ctrl-C, library abort) while the request was under way. */
export class Interrupted extends Error {
  constructor() { super('interrupted'); this.name = 'Interrupted'; }
}

class DeadlineExceeded extends Error {
  readonly code = 'DeadlineExceeded';
  constructor(readonly ms: number) { super(`no answer within the ${Math.round(ms)} ms deadline`); this.name = 'DeadlineExceeded'; }
}

/** The abort reason of a straggler cut to be sent again at once in place of a refused hedge (RequestEngine.resendRefused). */
class CutAndResent extends Error {
  readonly code = 'CutAndResent';
  constructor(readonly ms: number) { super(`cut after ${Math.round(ms)} ms to be sent again (its hedge was refused)`); this.name = 'CutAndResent'; }
}

const NO_HEDGE: HedgeConfig = { ...DEFAULT_HEDGE, enabled: false };
/** how long the once-per-bucket GetBucketVersioning may take, ms */
const VERSIONING_CHECK_MS = 10_000;

/**
 * No hedge under --tpslimit or --bwlimit: a second copy would spend tokens the limit shares with
 * every other request, and a body held back by the limit is waiting, not straggling.
 */
function underLimit(ep: Endpoint, spec: RequestSpec<unknown>): boolean {
  return ep.limits.requests.length > 0 || ep.limitedTransferMs(spec.bytes, spec.kind ?? 'write') > 0;
}

/**
 * A small request's first copy, watched by the engine's StragglerWatch: its race (at most
 * SMALL_MAX_HEDGES hedges) is made only if it runs past its hedge time.
 */
class SmallCopy<T> implements Watched {
  private race: HedgedAttempt<T> | undefined;
  settled = false;
  /** `dueAt`: performance.now() when its hedge time (`afterMs` from its start) runs out */
  constructor(readonly dueAt: number, private readonly afterMs: number, private readonly stop: AttemptStop, private hooks: (() => HedgeHooks<T>) | undefined) {}

  straggled(): void {
    // cut by its deadline, its rejection not yet handled
    if (this.stop.aborted || !this.hooks) return;
    this.race = new HedgedAttempt<T>(this.hooks, this.afterMs, SMALL_MAX_HEDGES, this.stop, this.dueAt - this.afterMs);
    this.race.hedgeNow();
  }

  /** The first copy answered: the answer its request takes (its race's, when it has one). */
  answered(answer: Answer<T>): Answer<T> {
    const race = this.settle();
    return race ? race.firstAnswered(answer) : answer;
  }

  /** The first copy failed or was cut: its race's answer or error, when it has one; else `err`, thrown (a rejection handler's). */
  failed(err: unknown): Promise<Answer<T>> {
    const race = this.settle();
    if (race) return race.firstFailed(err);
    throw err;
  }

  /**
   * Its race, if it has one. The watch drops a settled copy at its next look; what the copy held
   * (through the hooks, the request and its buffered body, up to 1 MiB) is let go now, not then.
   */
  private settle(): HedgedAttempt<T> | undefined {
    const race = this.race;
    this.settled = true;
    this.race = undefined;
    this.hooks = undefined;
    return race;
  }
}

export class RequestEngine {
  /** performance.now() when made: reports' `startMs` count from it */
  private readonly createdAt = performance.now();
  /** the controllers of the attempts in flight: one listener on the run signal aborts them all */
  private readonly attempts = new Set<AttemptStop>();
  /** hedges sent, hedges that answered first, payload bytes of the hedges sent (sent twice) */
  hedged = 0;
  hedgeWon = 0;
  hedgeBytes = 0;
  /** requests finished (preflight checks are not counted), and their attempts beyond the first */
  requests = 0;
  retries = 0;
  private readonly budget: HedgeBudget;
  private readonly hedge: HedgeConfig;
  /** per bucket (and endpoint, when they do not share storage): may writes be hedged (versioning not enabled), or 'asking' */
  private readonly writeHedging = new Map<string, boolean | 'asking'>();
  /** small first copies that may be hedged, until they answer */
  private readonly stragglers = new StragglerWatch();

  constructor(
    /** the pool requests are routed through (listings in fallback mode walk its endpoints) */
    readonly pool: EndpointPool,
    private readonly retry: RetryConfig,
    private readonly runSignal: AbortSignal,
    private readonly logger: Logger,
    /** one report per finished request; none is built without a listener */
    private readonly onReport?: ((r: RequestReport) => void) | undefined,
    hedgeConfig: HedgeConfig | undefined = NO_HEDGE,
  ) {
    this.hedge = hedgeConfig ?? NO_HEDGE;
    // two hedges in reserve: a run of few large parts earns one only every 20 requests, and its
    // first stalled part would wait for the deadline (test/e2e/hedge.test.ts "early in a run")
    this.budget = new HedgeBudget(this.hedge.budgetFraction, this.hedge.budgetBurst, 2);
    // retries sleeping at once each listen (sleep); attempts share the one listener below
    setMaxListeners(0, runSignal);
    runSignal.addEventListener('abort', () => {
      for (const ac of this.attempts) ac.abort(new Interrupted());
    }, { once: true });
  }

  async run<T>(spec: RequestSpec<T>): Promise<T> {
    const start = performance.now();
    const kind = spec.kind ?? 'write';
    const fallbackRead = this.pool.mode === 'fallback' && kind === 'read' && !spec.endpoint;
    const tries: Tries = { counted: 0, sent: 0, throttled: 0, clockFixed: false, deadlinesMs: [], hedged: 0, hedgeWon: false, resent: false };
    if (!spec.unreported) this.budget.deposit();
    let failedOn: Endpoint | undefined;
    for (;;) {
      // counted attempts (0-based): deadline growth, --retries, fallback order; throttles do not count
      const attempt = tries.counted;
      if (this.runSignal.aborted) throw new Interrupted();
      let ep: Endpoint;
      try {
        // fields left undefined rather than spread in: no temporary objects, one shape for every call
        ep = await this.pool.acquire({
          bytes: spec.bytes, kind, bucket: spec.bucket, pinned: spec.endpoint, avoid: failedOn, fallbackIndex: fallbackRead ? attempt : undefined,
        }, this.runSignal);
      } catch (err) {
        if (this.runSignal.aborted) throw new Interrupted();
        // every endpoint stayed down past the bounded wait: nothing in this run can progress
        const facts = errorFacts(err);
        const report = this.report(spec, this.pool.primary, tries, 0, start, false, facts.code);
        if (!spec.unreported) this.finished(tries, report);
        throw new RequestFailed(facts, 'fatal', report, this.pool.primary);
      }
      // --tpslimit: the token is waited for before the deadline starts (a queue is not a stall)
      if (ep.limits.requests.length > 0) await this.takeRequestToken(ep, spec.bytes);
      // requests in flight on this endpoint, this one included: they share its bandwidth
      const startConcurrency = ep.stats.inFlight;
      const deadlineMs = spec.deadlineMs !== undefined
        ? spec.deadlineMs * ep.estimator.config.backoff ** attempt
        : ep.estimator.deadlineMs(spec.bytes, attempt, startConcurrency, ep.limitedTransferMs(spec.bytes, kind), this.tailDeadlineAllowed(spec, ep));
      tries.deadlinesMs.push(Math.round(deadlineMs));
      const ac = new AttemptStop();
      const timer = this.armDeadline(spec, ep, ac, tries, { deadlineMs, attempt, startConcurrency, kind });
      this.attempts.add(ac);
      // aborted while the endpoint was acquired: the listener above has already run
      if (this.runSignal.aborted) ac.abort(new Interrupted());
      ep.stats.requests++;
      tries.sent++;
      const t0 = performance.now();
      const signedWithOffsetMs = ep.clockOffsetMs;
      let outcome: Outcome = 'neutral';
      let reason: string | undefined;
      let waitMs: number;
      try {
        const answer = await this.send(spec, ep, ac, startConcurrency, tries);
        const winner = answer.ep;
        if (!answer.hedge) {
          outcome = 'success';
          if (spec.deadlineMs === undefined) ep.estimator.record(spec.bytes, answer.ms, (startConcurrency + ep.stats.inFlight) / 2, false, answer.afterBodyMs);
        } else {
          // the hedge answered first (the race has cut this copy): its time so far is a lower bound of its endpoint's
          if (spec.deadlineMs === undefined) ep.estimator.record(spec.bytes, performance.now() - t0, (startConcurrency + ep.stats.inFlight) / 2, true);
          tries.hedgeWon = true;
          ep.estimator.hedgeOutcome(true);
          this.hedgeWon++;
          winner.stats.hedgeWon++;
        }
        winner.stats.bytes += spec.bytes;
        if (!spec.unreported) this.finished(tries, this.onReport && this.report(spec, winner, tries, answer.ms, start, true));
        return answer.result;
      } catch (raw) {
        // An abort surfaces as the SDK's AbortError; the real cause is the signal's reason.
        const err: unknown = ac.aborted ? ac.reason : raw;
        if (err instanceof Interrupted || this.runSignal.aborted) throw new Interrupted();
        ep.stats.errors++;
        // A request cut by its deadline took at least that long: learn the lower bound, so an
        // endpoint slower than the prior is not cut forever without ever succeeding there.
        if ((err instanceof DeadlineExceeded || err instanceof CutAndResent) && spec.deadlineMs === undefined) ep.estimator.record(spec.bytes, err.ms, (startConcurrency + ep.stats.inFlight) / 2, true);
        const facts = errorFacts(err);
        const next = this.afterFailure(spec, ep, facts, tries, fallbackRead, signedWithOffsetMs);
        outcome = next.outcome;
        reason = facts.code;
        if (next.waitMs === undefined) {
          const report = this.report(spec, ep, tries, performance.now() - t0, start, false, facts.code);
          if (!spec.unreported) this.finished(tries, report);
          throw new RequestFailed(facts, next.decision, report, ep);
        }
        ep.stats.retries++;
        failedOn = ep;
        waitMs = next.waitMs;
        this.logger.info(
          { op: spec.op, key: spec.key, part: spec.part, endpoint: ep.name, attempt: tries.sent, code: facts.code, status: facts.status, deadlineMs: Math.round(deadlineMs), waitMs: Math.round(waitMs) },
          'attempt failed, retrying',
        );
      } finally {
        clearTimeout(timer.current);
        this.attempts.delete(ac);
        this.pool.release(ep, spec.bytes, outcome, reason, t0);
      }
      // the endpoint's place is free while we back off
      await this.sleep(waitMs);
    }
  }

  /**
   * The attempt's deadline timer (`current`: the live one). A large request's deadline counts
   * the requests sharing the endpoint when it started; when it runs out while more share it
   * now (a run's first parts start before the other 15), it is sized again for them, not cut:
   * fault-free 10 × 64 MiB runs cut their first parts at ~1.4× the median part time. One sized
   * by the prior (the endpoint had learnt no bandwidth yet) is sized again, once, when it has:
   * a run's first stalled part otherwise waited 3 × its time at 10 MB/s (10-80 s for 16 MiB)
   * whenever no hedge cut it (`--no-hedge`, or its hedge stalled too); it asks every RECHECK_MS.
   */
  private armDeadline(spec: RequestSpec<unknown>, ep: Endpoint, ac: AttemptStop, tries: Tries, a: { deadlineMs: number; attempt: number; startConcurrency: number; kind: 'read' | 'write' }): { current: NodeJS.Timeout } {
    const t0 = performance.now();
    const regrow = spec.deadlineMs === undefined && ep.estimator.isLarge(spec.bytes);
    let currentMs = a.deadlineMs;
    // requests sharing the endpoint that the current deadline was sized for
    let sizedFor = a.startConcurrency;
    let fromPrior = regrow && !ep.estimator.bandwidthKnown();
    const timer = {} as { current: NodeJS.Timeout };
    // the deadline is `ms` from t0; the timer fires then, or sooner to ask again while fromPrior
    const resize = (ms: number, now: number): void => {
      currentMs = ms;
      tries.deadlinesMs[tries.deadlinesMs.length - 1] = Math.round(ms);
      const leftMs = ms - (now - t0);
      timer.current = setTimeout(expire, clampTimerMs(fromPrior ? Math.min(RECHECK_MS, leftMs) : leftMs));
    };
    function expire(): void {
      const now = performance.now();
      if (fromPrior && ep.estimator.bandwidthKnown()) {
        fromPrior = false;
        sizedFor = Math.max(sizedFor, ep.stats.inFlight);
        resize(Math.min(currentMs, ep.estimator.deadlineMs(spec.bytes, a.attempt, sizedFor, ep.limitedTransferMs(spec.bytes, a.kind))), now);
        return;
      }
      if (now - t0 < currentMs - 1) { resize(currentMs, now); return; }
      if (regrow && ep.stats.inFlight > sizedFor) {
        const grownMs = ep.estimator.deadlineMs(spec.bytes, a.attempt, ep.stats.inFlight, ep.limitedTransferMs(spec.bytes, a.kind));
        if (grownMs > now - t0 + 1) {
          sizedFor = ep.stats.inFlight;
          resize(grownMs, now);
          return;
        }
      }
      tries.cutAt ??= now;
      ac.abort(new DeadlineExceeded(currentMs));
    }
    resize(a.deadlineMs, t0);
    return timer;
  }

  /**
   * What one failed attempt means: its decision, what it tells the pool (only health failures
   * feed the breaker; throttling lowers the endpoint's limit) and the wait before the next
   * attempt (undefined: give up). Throttled retries and a clock-corrected re-send do not spend
   * the request's retries (see THROTTLE_BUDGET_MS).
   */
  private afterFailure(spec: RequestSpec<unknown>, ep: Endpoint, facts: ErrorFacts, tries: Tries, fallbackRead: boolean, signedWithOffsetMs: number): { decision: Decision; outcome: Outcome; waitMs: number | undefined } {
    // a straggler cut in place of a refused hedge (resendRefused): again at once, no retry spent
    if (facts.code === 'CutAndResent') return { decision: 'retry', outcome: 'neutral', waitMs: 0 };
    let decision = decide(facts);
    // a skew answer whose Date header explains it: re-sign at once with the learnt clock (once)
    if (isClockSkew(facts) && !tries.clockFixed && ep.learnClockOffset(facts.serverDateMs, signedWithOffsetMs)) {
      tries.clockFixed = true;
      return { decision: 'retry', outcome: 'neutral', waitMs: 0 };
    }
    const { backoffBaseMs, backoffCapMs, throttleBudgetMs = THROTTLE_BUDGET_MS } = this.retry;
    const maxRetries = spec.retries ?? ep.config.retries ?? this.retry.retries;
    const throttled = decision === 'retry' && isThrottle(facts);
    const outcome: Outcome = throttled ? 'throttled' : decision === 'retry' && feedsBreaker(facts) ? 'failure' : 'neutral';
    // retries 0 (`endpoints check`, --retries 0) means never resend, throttled or not
    if (throttled && maxRetries > 0) {
      const now = performance.now();
      tries.throttledSinceMs ??= now;
      if (now - tries.throttledSinceMs < throttleBudgetMs) {
        return { decision, outcome, waitMs: backoffMs(tries.throttled++, backoffBaseMs, backoffCapMs, facts.retryAfterMs) };
      }
    }
    // fallback reads: a miss or failure on one store sends the read to the next, in order
    if (fallbackRead && decision === 'fail' && tries.counted + 1 < this.pool.endpoints.length) decision = 'retry';
    const budget = fallbackRead ? Math.max(maxRetries, this.pool.endpoints.length - 1) : maxRetries;
    if (decision !== 'retry' || tries.counted >= budget) return { decision, outcome, waitMs: undefined };
    return { decision, outcome, waitMs: backoffMs(tries.counted++, backoffBaseMs, backoffCapMs, facts.retryAfterMs) };
  }

  /** One token from each of the endpoint's request buckets; on interrupt the endpoint's place is given back. */
  private async takeRequestToken(ep: Endpoint, bytes: number): Promise<void> {
    try {
      for (const bucket of ep.limits.requests) await bucket.take(1, this.runSignal);
    } catch {
      this.pool.release(ep, bytes, 'neutral');
      throw new Interrupted();
    }
  }

  /** A finished request: counted, and its report (built only for a listener) passed on. */
  private finished(tries: Tries, report: RequestReport | undefined): void {
    this.requests++;
    this.retries += tries.sent - 1;
    if (report) this.onReport?.(report);
  }

  /** `startedAt`: performance.now() when the request started (its total time runs from there). */
  private report(spec: RequestSpec<unknown>, ep: Endpoint, tries: Tries, successMs: number, startedAt: number, ok: boolean, error?: string): RequestReport {
    const totalMs = performance.now() - startedAt;
    return {
      op: spec.op, key: spec.key, ...(spec.part !== undefined && { part: spec.part }),
      endpoint: ep.name, bytes: spec.bytes, attempts: tries.sent,
      successMs: Math.round(successMs * 10) / 10, totalMs: Math.round(totalMs * 10) / 10,
      mbps: ok ? mbps(spec.bytes, successMs) : 0, mbpsEst: ep.estimator.mbpsFor(spec.bytes), ok,
      ...(error !== undefined && { error }),
      deadlinesMs: [...tries.deadlinesMs], hedged: tries.hedged, hedgeWon: tries.hedgeWon,
      startMs: Math.round(startedAt - this.createdAt),
      ...(tries.cutAt !== undefined && { cutMs: Math.round(tries.cutAt - startedAt) }),
    };
  }

  /**
   * One attempt on `ep`; when it runs past its endpoint's `afterQuantile` time (or, a large write,
   * waits too long after its body) and the request may be hedged, the race of ./hedged-attempt.ts
   * (a large request's made at its start; a small one's by the StragglerWatch, when it is due).
   * Resolves with the first answer; rejects with the first copy's error once no copy can answer.
   * A hedge that answers first aborts the first copy; losing copies are aborted by the race.
   */
  private send<T>(spec: RequestSpec<T>, ep: Endpoint, ac: AttemptStop, concurrency: number, tries: Tries): Promise<Answer<T>> {
    const t0 = performance.now();
    ep.latestStartMs = t0;
    let bodySentAt: number | undefined;
    let race: HedgedAttempt<T> | undefined;
    const large = ep.estimator.isLarge(spec.bytes);
    const silence = large && spec.kind === 'read' ? new ReadSilence(ep) : undefined;
    // large bodies only: a small one is all sent at once, and a listener per request costs CPU
    const progress: AttemptProgress = !large ? NO_PROGRESS : {
      bodySent: () => { bodySentAt ??= performance.now(); race?.bodySent(bodySentAt); },
      ...(silence && { received: silence.heard }),
    };
    const sent = spec.send(ep, ac, progress);
    const toAnswer = (result: T): Answer<T> => {
      const now = performance.now();
      ep.answered(t0);
      return { result, ep, ms: now - t0, hedge: false, afterBodyMs: bodySentAt !== undefined ? now - bodySentAt : undefined };
    };
    const plan = this.hedgePlan(spec, ep, concurrency, large);
    if (!plan) return sent.then(toAnswer);
    const { kind, afterMs } = plan;
    // the hooks are made only if the race needs them
    const hooks = (): HedgeHooks<T> => this.hedgeHooks(spec, ep, ac, tries, { t0, kind, afterMs, large, concurrency, silence });
    if (large) {
      const r = (race = new HedgedAttempt<T>(hooks, afterMs, 1, ac, t0, silence));
      r.start();
      return sent.then((result) => r.firstAnswered(toAnswer(result)), (err: unknown) => r.firstFailed(err));
    }
    const copyAfterMs = Math.max(afterMs!, SMALL_HEDGE_MIN_MS);
    const copy = new SmallCopy<T>(t0 + copyAfterMs, copyAfterMs, ac, hooks);
    this.stragglers.add(copy);
    return sent.then((result) => copy.answered(toAnswer(result)), (err: unknown) => copy.failed(err));
  }

  /**
   * May an attempt of `spec` on `ep` be hedged, as what kind, and after how long (undefined: a
   * large request's, not known yet)? Undefined when it may not. A large request may run long
   * enough for its endpoint to learn its hedge time meanwhile; a write asks the bucket's
   * versioning as soon as it could be hedged, and its race asks again when a hedge is due and
   * while the answer is pending, so the first slow writes are hedged.
   */
  private hedgePlan(spec: RequestSpec<unknown>, ep: Endpoint, concurrency: number, large: boolean): { kind: 'read' | 'write'; afterMs: number | undefined } | undefined {
    if (!this.hedge.enabled || spec.hedge !== true || spec.unreported || spec.deadlineMs !== undefined || underLimit(ep, spec)) return undefined;
    const kind = hedgeKind(spec.op);
    if (!kind) return undefined;
    const afterMs = ep.estimator.hedgeAfterMs(spec.bytes, this.hedge.afterQuantile, concurrency);
    if (afterMs === undefined && !large) return undefined;
    if (kind === 'write' && this.writeHedgeAllowed(spec.bucket, ep) === false) return undefined;
    return { kind, afterMs };
  }

  /** What the race of an attempt on `ep` (sent at `a.t0`) needs from the engine (./hedged-attempt.ts HedgeHooks). */
  private hedgeHooks<T>(spec: RequestSpec<T>, ep: Endpoint, ac: AttemptStop, tries: Tries,
    a: { t0: number; kind: 'read' | 'write'; afterMs: number | undefined; large: boolean; concurrency: number; silence: ReadSilence | undefined }): HedgeHooks<T> {
    const { t0, kind, afterMs, large, concurrency, silence } = a;
    // requests sharing the endpoint, sized for when the hedge is due (never fewer than at the start)
    const sharing = (): number => Math.max(concurrency, ep.stats.inFlight);
    return {
      mayHedge: () => {
        const allowed = kind !== 'write' || this.writeHedgeAllowed(spec.bucket, ep);
        return allowed === 'asking' ? undefined : allowed;
      },
      sendHedge: (ac) => {
        const hep = this.takeHedgePlace(spec, ep, t0);
        if (typeof hep === 'string') return { sent: false, refused: hep };
        const heard = silence && new ReadSilence(hep, true);
        return { sent: true, answer: this.hedgeCopy(spec, ep, hep, ac, tries, heard ? { received: heard.heard } : NO_PROGRESS), silence: heard };
      },
      hedgeAfterMsNow: () => (large ? ep.estimator.hedgeAfterMs(spec.bytes, this.hedge.afterQuantile, sharing()) : afterMs),
      // what is left of a body drains at the endpoint's rate shared by those in flight now, fewer as a run ends
      afterBodyWaitMs: () => ep.estimator.hedgeAfterBodyMs(spec.bytes, this.hedge.afterQuantile, ep.stats.inFlight),
      hedgesLost: () => ep.estimator.hedgeOutcome(false),
      cutInstead: (refused) => this.resendRefused(spec, ep, ac, tries, t0, refused),
    };
  }

  /**
   * Where the hedge of a slow attempt on `ep` may go: another healthy endpoint with a hedge
   * place, else `ep` again (another connection), within the budget; or why it may not. Takes no
   * request slot (the caller's slot covers the request): each endpoint takes at most
   * `hedgeExtra` hedges beyond its limit. The place taken is given back by hedgeCopy.
   */
  private takeHedgePlace(spec: RequestSpec<unknown>, ep: Endpoint, startedAtMs: number): Endpoint | HedgeRefusal {
    if (!this.budget.tryTake()) return 'budget';
    const hep = this.pool.tryAcquireHedge({
      bytes: spec.bytes, kind: spec.kind ?? 'write', avoid: ep,
      // a small request's copy goes to the same endpoint only when later ones overtook it there;
      // a large one is timed by its own bytes (parts that start together end together)
      othersOnly: !ep.estimator.isLarge(spec.bytes) && !overtaken(startedAtMs, ep),
      ...(spec.bucket !== undefined && { bucket: spec.bucket }), ...(spec.endpoint && { pinned: spec.endpoint }),
    });
    if (!hep) { this.budget.refund(); return 'place'; }
    if (underLimit(hep, spec)) {
      // --tpslimit/--bwlimit on the hedge's endpoint: a copy would take tokens meant for others
      hep.hedgesInFlight--;
      this.pool.release(hep, spec.bytes, 'neutral');
      this.budget.refund();
      return 'limit';
    }
    return hep;
  }

  /** The hedge of a slow attempt on `ep`, sent to `hep` (takeHedgePlace). Undefined when cut or failed. */
  private async hedgeCopy<T>(spec: RequestSpec<T>, ep: Endpoint, hep: Endpoint, ac: AttemptStop, tries: Tries, progress: AttemptProgress): Promise<Answer<T> | undefined> {
    this.hedged++;
    this.hedgeBytes += spec.bytes;
    tries.hedged++;
    tries.cutAt ??= performance.now();
    hep.stats.requests++;
    hep.stats.hedged++;
    const concurrency = hep.stats.inFlight;
    const deadlineMs = hep.estimator.deadlineMs(spec.bytes, 0, concurrency);
    const timer = setTimeout(() => ac.abort(new DeadlineExceeded(deadlineMs)), clampTimerMs(deadlineMs));
    this.attempts.add(ac);
    if (this.runSignal.aborted) ac.abort(new Interrupted());
    this.logger.debug({ op: spec.op, key: spec.key, part: spec.part, endpoint: ep.name, hedgeEndpoint: hep.name }, 'hedging a slow request');
    const t0 = performance.now();
    let outcome: Outcome = 'neutral';
    let reason: string | undefined;
    try {
      const result = await spec.send(hep, ac, progress);
      const ms = performance.now() - t0;
      hep.answered(t0);
      outcome = 'success';
      hep.estimator.record(spec.bytes, ms, (concurrency + hep.stats.inFlight) / 2);
      return { result, ep: hep, ms, hedge: true };
    } catch (raw) {
      const err: unknown = ac.aborted ? ac.reason : raw;
      if (!(err instanceof HedgeLost) && !(err instanceof Interrupted)) {
        const facts = errorFacts(err);
        hep.stats.errors++;
        reason = facts.code;
        outcome = isThrottle(facts) ? 'throttled' : feedsBreaker(facts) ? 'failure' : 'neutral';
        this.logger.debug({ op: spec.op, key: spec.key, endpoint: hep.name, code: facts.code }, 'hedge failed');
      }
      return undefined;
    } finally {
      clearTimeout(timer);
      this.attempts.delete(ac);
      hep.hedgesInFlight--;
      this.pool.release(hep, spec.bytes, outcome, reason, t0);
    }
  }

  /**
   * A small first copy whose hedge the budget refused, past its endpoint's cut time
   * (estimator.cutAfterMs) and overtaken there, is cut and sent again at once: still one copy in
   * flight, so the budget's bound on copies in flight holds, and the endpoint slow as a whole
   * (nothing overtook it) is not cut. Once per request; not one of --retries, and never under
   * --retries 0. Without it, stragglers beyond the budget (bench H3: 1 answer in 20 held 1 s,
   * hedges counted, is 5.3% of requests against a 5% budget) waited for their deadline, 9× the median.
   * Before its cut time: the ms left, so the race asks again then, not a re-ask's step later
   * (bench H3 probes: such cuts came at 3.0-3.3× the median, the cut time being 2.5× then).
   */
  private resendRefused(spec: RequestSpec<unknown>, ep: Endpoint, ac: AttemptStop, tries: Tries, startedAtMs: number, refused: HedgeRefusal): true | number | undefined {
    if (tries.resent || refused !== 'budget') return undefined;
    if ((spec.retries ?? ep.config.retries ?? this.retry.retries) <= 0) return undefined;
    const cutAfterMs = ep.estimator.cutAfterMs(spec.bytes);
    if (cutAfterMs === undefined) return undefined;
    const elapsedMs = performance.now() - startedAtMs;
    if (elapsedMs < cutAfterMs) return cutAfterMs - elapsedMs;
    if (!overtaken(startedAtMs, ep)) return undefined;
    tries.resent = true;
    tries.cutAt ??= performance.now();
    ac.abort(new CutAndResent(elapsedMs));
    return true;
  }

  /**
   * May this request's first deadline come from its endpoint's tail (p99 × 3, ~100-200 ms)? A
   * write cut by it and sent again leaves a second version when the server had stored the first
   * (seen: 154 versions for 150 files on a loaded machine), as a hedge would: writes get it only
   * on a bucket whose versioning is known to be off, asked once the tail is known.
   */
  private tailDeadlineAllowed(spec: RequestSpec<unknown>, ep: Endpoint): boolean {
    if ((spec.kind ?? 'write') === 'read' || !ep.estimator.tailKnown(spec.bytes)) return true;
    return this.writeHedgeAllowed(spec.bucket, ep) === true;
  }

  /**
   * May writes to `bucket` be hedged? Only when its versioning is known not enabled: asked once
   * per run and bucket (GetBucketVersioning on `ep`, directly: one small request, no slot);
   * 'asking' (no hedge yet) while the answer is pending, false for the run when it cannot be read.
   */
  private writeHedgeAllowed(bucket: string | undefined, ep: Endpoint): boolean | 'asking' {
    if (bucket === undefined) return false;
    // endpoints in front of one store share the answer; separate stores (replicate) are asked each
    const where = this.pool.sharedStorage ? bucket : `${ep.name}\0${bucket}`;
    const known = this.writeHedging.get(where);
    if (known !== undefined) return known;
    this.writeHedging.set(where, 'asking');
    const signal = AbortSignal.any([this.runSignal, AbortSignal.timeout(VERSIONING_CHECK_MS)]);
    ep.store.getBucketVersioning({ bucket }, signal).then(
      ({ status }) => {
        this.writeHedging.set(where, status !== 'Enabled');
        if (status === 'Enabled') this.logger.info({ bucket }, 'bucket versioning is enabled: writes are not hedged');
      },
      (err: unknown) => {
        this.writeHedging.set(where, false);
        this.logger.warn({ bucket, code: errorFacts(err).code }, 'cannot read the bucket\'s versioning: writes are not hedged');
      },
    );
    return 'asking';
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.runSignal.aborted) return reject(new Interrupted());
      const onAbort = (): void => { clearTimeout(t); reject(new Interrupted()); };
      const t = setTimeout(() => { this.runSignal.removeEventListener('abort', onAbort); resolve(); }, clampTimerMs(ms));
      this.runSignal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
