/**
 * The request wrapper every S3 request passes through: route → deadline → send → learn →
 * retry → report. One attempt = one fresh body (the `send` callback builds it), one
 * AbortController whose timer is the whole-request deadline from the endpoint's estimator.
 */
import { setMaxListeners } from 'node:events';
import { THROTTLE_BUDGET_MS, type RetryConfig } from '../config/defaults.js';
import { clampTimerMs, mbps } from '../config/units.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { EndpointPool } from '../endpoints/pool.js';
import type { Logger } from '../logger.js';
import {
  backoffMs, decide, errorFacts, feedsBreaker, isClockSkew, isThrottle, type Decision, type ErrorFacts,
} from './retry-policy.js';

export type Operation =
  | 'PutObject' | 'CreateMultipartUpload' | 'UploadPart' | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload' | 'ListObjectsV2' | 'HeadObject' | 'GetObject' | 'DeleteObjects' | 'DeleteObject';

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
}

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
  /** sends one attempt; must build a fresh body each time and honour `signal` */
  send(endpoint: Endpoint, signal: AbortSignal): Promise<T>;
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
  constructor(ms: number) { super(`no answer within the ${Math.round(ms)} ms deadline`); this.name = 'DeadlineExceeded'; }
}

export class RequestEngine {
  /** the controllers of the attempts in flight: one listener on the run signal aborts them all */
  private readonly attempts = new Set<AbortController>();

  constructor(
    /** the pool requests are routed through (listings in fallback mode walk its endpoints) */
    readonly pool: EndpointPool,
    private readonly retry: RetryConfig,
    private readonly runSignal: AbortSignal,
    private readonly logger: Logger,
    private readonly onReport: (r: RequestReport) => void = () => {},
  ) {
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
    const tries: Tries = { counted: 0, sent: 0, throttled: 0, clockFixed: false };
    let failedOn: Endpoint | undefined;
    for (;;) {
      // counted attempts (0-based): deadline growth, --retries, fallback order; throttles do not count
      const attempt = tries.counted;
      if (this.runSignal.aborted) throw new Interrupted();
      let ep: Endpoint;
      try {
        ep = await this.pool.acquire({
          bytes: spec.bytes, kind,
          ...(spec.bucket !== undefined && { bucket: spec.bucket }),
          ...(spec.endpoint && { pinned: spec.endpoint }),
          ...(failedOn && { avoid: failedOn }),
          ...(fallbackRead && { fallbackIndex: attempt }),
        }, this.runSignal);
      } catch (err) {
        if (this.runSignal.aborted) throw new Interrupted();
        // every endpoint stayed down past the bounded wait: nothing in this run can progress
        const facts = errorFacts(err);
        const report = this.report(spec, this.pool.primary, tries.sent, 0, performance.now() - start, false, facts.code);
        if (!spec.unreported) this.onReport(report);
        throw new RequestFailed(facts, 'fatal', report, this.pool.primary);
      }
      // requests in flight on this endpoint, this one included: they share its bandwidth
      const startConcurrency = ep.stats.inFlight;
      const deadlineMs = spec.deadlineMs !== undefined
        ? spec.deadlineMs * ep.estimator.config.backoff ** attempt
        : ep.estimator.deadlineMs(spec.bytes, attempt, startConcurrency);
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(new DeadlineExceeded(deadlineMs)), clampTimerMs(deadlineMs));
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
        const result = await spec.send(ep, ac.signal);
        const successMs = performance.now() - t0;
        outcome = 'success';
        if (spec.deadlineMs === undefined) ep.estimator.record(spec.bytes, successMs, (startConcurrency + ep.stats.inFlight) / 2);
        ep.stats.bytes += spec.bytes;
        if (!spec.unreported) this.onReport(this.report(spec, ep, tries.sent, successMs, performance.now() - start, true));
        return result;
      } catch (raw) {
        // An abort surfaces as the SDK's AbortError; the real cause is the signal's reason.
        const err: unknown = ac.signal.aborted ? ac.signal.reason : raw;
        if (err instanceof Interrupted || this.runSignal.aborted) throw new Interrupted();
        ep.stats.errors++;
        // A request cut by its deadline took at least that long: learn the lower bound, so an
        // endpoint slower than the prior is not cut forever without ever succeeding there.
        if (err instanceof DeadlineExceeded && spec.deadlineMs === undefined) ep.estimator.record(spec.bytes, deadlineMs, (startConcurrency + ep.stats.inFlight) / 2, true);
        const facts = errorFacts(err);
        const next = this.afterFailure(spec, ep, facts, tries, fallbackRead, signedWithOffsetMs);
        outcome = next.outcome;
        reason = facts.code;
        if (next.waitMs === undefined) {
          const report = this.report(spec, ep, tries.sent, performance.now() - t0, performance.now() - start, false, facts.code);
          if (!spec.unreported) this.onReport(report);
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
        clearTimeout(timer);
        this.attempts.delete(ac);
        this.pool.release(ep, spec.bytes, outcome, reason, t0);
      }
      // the endpoint's place is free while we back off
      await this.sleep(waitMs);
    }
  }

  /**
   * What one failed attempt means: its decision, what it tells the pool (only health failures
   * feed the breaker; throttling lowers the endpoint's limit) and the wait before the next
   * attempt (undefined: give up). Throttled retries and a clock-corrected re-send do not spend
   * the request's retries (see THROTTLE_BUDGET_MS).
   */
  private afterFailure(spec: RequestSpec<unknown>, ep: Endpoint, facts: ErrorFacts, tries: Tries, fallbackRead: boolean, signedWithOffsetMs: number): { decision: Decision; outcome: Outcome; waitMs: number | undefined } {
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

  private report(spec: RequestSpec<unknown>, ep: Endpoint, attempts: number, successMs: number, totalMs: number, ok: boolean, error?: string): RequestReport {
    return {
      op: spec.op, key: spec.key, ...(spec.part !== undefined && { part: spec.part }),
      endpoint: ep.name, bytes: spec.bytes, attempts,
      successMs: Math.round(successMs * 10) / 10, totalMs: Math.round(totalMs * 10) / 10,
      mbps: ok ? mbps(spec.bytes, successMs) : 0, mbpsEst: ep.estimator.mbpsFor(spec.bytes), ok,
      ...(error !== undefined && { error }),
    };
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
