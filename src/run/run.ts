/**
 * One run of a command against the store, what every op builds on: the resolved connection,
 * the endpoint pool, the request engine (and the cleanup engine multipart aborts use after the
 * run stopped), the run signal (the caller's abort, or the run's own stop on the first fatal
 * error), the request slots, progress ticking, the dispatch of objects, and the counters every
 * summary reports (./summary.ts RunTotals).
 */
import { resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../config/options.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { EndpointPool } from '../endpoints/pool.js';
import { Limiter } from '../engine/limiter.js';
import { RequestEngine, RequestFailed, type RequestReport } from '../engine/request.js';
import { silentLogger, type Logger } from '../logger.js';
import { describeFatal, endpointSummaries, openPool, preflight } from './context.js';
import { Dispatch } from './dispatch.js';
import { ProgressTicker } from './progress.js';
import type { EndpointSummary, RunTotals } from './summary.js';

export interface RunOptions {
  /** one call per finished request (success or final failure) */
  onReport?: ((r: RequestReport) => void) | undefined;
  /** override of the retries of every request of the run (`endpoints check`: 0) */
  retries?: number;
  logger?: Logger | undefined;
  /** the caller's abort (Ctrl-C, library abort): interrupts the run */
  signal?: AbortSignal | undefined;
}

/** Replicate mode: objects stored on / missing from each store, for the endpoint summaries. */
export type PerStore = ReadonlyMap<Endpoint, { ok: number; failed: number }>;

export class Run {
  readonly logger: Logger;
  /** the run's requests: they stop with the run signal */
  readonly engine: RequestEngine;
  /** never interrupted, few retries: multipart aborts still go out after the run stopped */
  readonly cleanup: RequestEngine;
  /** aborted on the caller's signal (interrupt) or on the first fatal error */
  readonly signal: AbortSignal;
  /** one slot per request in flight, shared by whole objects and parts */
  readonly slots: Limiter;
  readonly startedMs = performance.now();
  /** Date.now() at the start (compared with file timestamps) */
  readonly startedWallMs = Date.now();
  /** whole-object fetches again after a ranged download's MD5 mismatch (counted as retries) */
  refetches = 0;
  /** objects found but not attempted (or whose state is unknown) because the run stopped */
  notAttempted = 0;
  /** the first error that stopped the whole run */
  fatal: string | undefined;
  private readonly fatalStop = new AbortController();
  private readonly callerSignal: AbortSignal | undefined;

  /** A run on the pool `opts` describe; close() destroys the pool. */
  static open(opts: ConnectionOptions, bucket: string, o: Omit<RunOptions, 'logger' | 'signal'> = {}): Run {
    const conn = resolveConnection(opts);
    const logger = opts.logger ?? silentLogger;
    return new Run(conn, openPool(conn, logger), bucket, { ...o, logger, signal: opts.signal });
  }

  constructor(readonly conn: ResolvedConnection, readonly pool: EndpointPool, readonly bucket: string, o: RunOptions = {}) {
    this.logger = o.logger ?? silentLogger;
    this.callerSignal = o.signal;
    this.signal = o.signal ? AbortSignal.any([o.signal, this.fatalStop.signal]) : this.fatalStop.signal;
    const retry = o.retries === undefined ? conn.retry : { ...conn.retry, retries: o.retries };
    this.engine = new RequestEngine(pool, retry, this.signal, this.logger, o.onReport, conn.hedge);
    this.cleanup = new RequestEngine(pool, { ...conn.retry, retries: 2 }, new AbortController().signal, this.logger, o.onReport);
    this.slots = new Limiter(conn.concurrency);
  }

  /** True when the caller aborted (Ctrl-C, library abort), as opposed to a fatal stop. */
  get interrupted(): boolean {
    return this.callerSignal?.aborted ?? false;
  }

  get wallMs(): number {
    return performance.now() - this.startedMs;
  }

  /** Throws FatalRunError when the bucket, the credentials or every endpoint is wrong (./context.ts). */
  preflight(): Promise<void> {
    return preflight(this.engine, this.pool, this.bucket, this.logger);
  }

  /** Stops the run with `message` (the first one wins): nothing new is dispatched. */
  stop(message: string): void {
    if (this.fatal !== undefined) return;
    this.fatal = message;
    this.logger.error({ error: message }, 'stopping the run');
    this.fatalStop.abort();
  }

  /**
   * Cuts every request in flight and stops the run without a message of its own: the caller is
   * failing the run with its own error already (ops/preflight-listing.ts: the preflight failed
   * while the first listing page was being asked for).
   */
  abandon(): void {
    this.fatalStop.abort();
  }

  /** Stops the run when `err` is a request that failed with a 'fatal' decision; says whether it did. */
  stopIfFatal(err: unknown): boolean {
    if (!(err instanceof RequestFailed) || err.decision !== 'fatal') return false;
    this.stop(describeFatal(err, this.bucket, err.endpoint.label));
    return true;
  }

  /** At most `places` items in progress at once, each started only when it can (./dispatch.ts). */
  dispatch(places: number): Dispatch {
    return new Dispatch(this, places);
  }

  /** Progress of this run handed to `onProgress` at most every 100 ms (./progress.ts). */
  ticker<P extends { elapsedMs: number }>(progress: P, onProgress: ((p: P) => void) | undefined): ProgressTicker<P> {
    return new ProgressTicker(progress, onProgress, () => this.wallMs);
  }

  endpoints(perStore?: PerStore): EndpointSummary[] {
    return endpointSummaries(this.pool, perStore);
  }

  /** requests reported (one per request, however many attempts; preflight checks are not among them) */
  get requests(): number { return this.engine.requests + this.cleanup.requests; }

  /** attempts beyond the first, over all reported requests, and whole-object fetches again */
  get retries(): number { return this.engine.retries + this.cleanup.retries + this.refetches; }

  /** What every summary reports, `objectsDone` giving objectsPerSec. */
  totals(objectsDone: number, perStore?: PerStore): RunTotals {
    const wallMs = this.wallMs;
    return {
      notAttempted: this.notAttempted, wallMs, objectsPerSec: objectsDone / (wallMs / 1000),
      requests: this.requests, retries: this.retries, interrupted: this.interrupted,
      hedged: this.engine.hedged, hedgeWon: this.engine.hedgeWon, hedgeBytes: this.engine.hedgeBytes,
      ...(this.fatal !== undefined && { fatal: this.fatal }),
      endpoints: this.endpoints(perStore),
    };
  }

  close(): void {
    this.pool.destroy();
  }
}

/** A wait that ends early (rejecting with `reason`) when `signal` aborts. */
export function sleepMs(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => { clearTimeout(t); reject(signal.reason); };
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
