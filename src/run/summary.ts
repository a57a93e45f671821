/** The summary parts every run reports, whatever it moved (upload, sync, download, delete, ls, cleanup). */
import type { BreakerState, BreakerTransition } from '../endpoints/breaker.js';

/** Usage statistics of one endpoint over the run (`--stats`, `--json`). */
export interface EndpointSummary {
  name: string; url: string;
  requests: number; bytes: number; errors: number; retries: number; inFlightPeak: number;
  /** hedges sent to this endpoint, and of those the ones that answered first */
  hedged: number; hedgeWon: number;
  /** bandwidth and latency estimates at the end of the run */
  mbpsEst: number; latencyMsEst: number;
  breaker: BreakerState;
  breakerTransitions: BreakerTransition[];
  /** replicate mode: objects stored on this endpoint / missing from it */
  filesOk?: number; filesFailed?: number;
}

/** What every run's summary reports, whatever it moved (upload, sync, download, delete). */
export interface RunTotals {
  /** objects found but not attempted (or whose state is unknown) because the run stopped */
  notAttempted: number;
  wallMs: number;
  objectsPerSec: number;
  /** requests reported (one per request, however many attempts) */
  requests: number;
  /** attempts beyond the first, over all reported requests */
  retries: number;
  /** hedges sent (second copies of slow requests), those that answered first, and their payload bytes (sent twice) */
  hedged: number;
  hedgeWon: number;
  hedgeBytes: number;
  interrupted: boolean;
  /** the error that stopped the whole run, if any */
  fatal?: string;
  endpoints: EndpointSummary[];
}
