/**
 * What `ls`, `delete-prefix` and `download` share for one run: the endpoint pool and request
 * engine, a run signal that stops on the caller's abort or on the first fatal error, the request
 * counters the summary shows, and the per-endpoint summary.
 */
import { resolveConnection, type ConnectionOptions, type ResolvedConnection } from '../config/options.js';
import type { EndpointPool } from '../endpoints/pool.js';
import { silentLogger, type Logger } from '../logger.js';
import { describeFatal, endpointSummaries, openPool } from './context.js';
import { RequestEngine, RequestFailed, type RequestReport } from '../engine/request.js';
import type { EndpointSummary } from './summary.js';

export class ObjectRun {
  readonly conn: ResolvedConnection;
  readonly logger: Logger;
  readonly pool: EndpointPool;
  readonly engine: RequestEngine;
  /** aborted on the caller's signal (interrupt) or on the first fatal error */
  readonly signal: AbortSignal;
  readonly startedMs = performance.now();
  /** requests reported (one per request, however many attempts) */
  requests = 0;
  /** attempts beyond the first, over all reported requests */
  retries = 0;
  /** the first error that stopped the whole run */
  fatal: string | undefined;
  private readonly fatalStop = new AbortController();

  constructor(private readonly opts: ConnectionOptions, readonly bucket: string, onReport?: (r: RequestReport) => void) {
    this.conn = resolveConnection(opts);
    this.logger = opts.logger ?? silentLogger;
    this.signal = opts.signal ? AbortSignal.any([opts.signal, this.fatalStop.signal]) : this.fatalStop.signal;
    this.pool = openPool(this.conn, this.logger);
    this.engine = new RequestEngine(this.pool, this.conn.retry, this.signal, this.logger, (r) => {
      this.requests++;
      this.retries += r.attempts - 1;
      onReport?.(r);
    });
  }

  /** True when the caller aborted (Ctrl-C, library abort), as opposed to a fatal stop. */
  get interrupted(): boolean {
    return this.opts.signal?.aborted ?? false;
  }

  get wallMs(): number {
    return performance.now() - this.startedMs;
  }

  /** Stops the run with `message` (the first one wins): nothing new is dispatched. */
  stop(message: string): void {
    if (this.fatal !== undefined) return;
    this.fatal = message;
    this.logger.error({ error: message }, 'stopping the run');
    this.fatalStop.abort();
  }

  /** Stops the run when `err` is a request that failed with a 'fatal' decision; says whether it did. */
  stopIfFatal(err: unknown): boolean {
    if (!(err instanceof RequestFailed) || err.decision !== 'fatal') return false;
    this.stop(describeFatal(err, this.bucket, err.endpoint.label));
    return true;
  }

  endpoints(): EndpointSummary[] {
    return endpointSummaries(this.pool);
  }

  close(): void {
    this.pool.destroy();
  }
}
