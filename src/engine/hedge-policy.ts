/**
 * Which requests may be hedged (sent a second time while the first is still running, the first
 * answer taken: engine/request.ts), and the budget that bounds how many are.
 *
 * Only idempotent requests whose second copy leaves the store as one copy would: a whole-object
 * PUT (the same bytes and Content-MD5 again: the later one replaces the earlier, same content),
 * UploadPart (the part is replaced), GET, HEAD and ListObjectsV2 pages. Never the multipart
 * control calls (a second Create opens a second upload; Complete/Abort act once) nor deletes.
 * Writes are not hedged on a bucket with versioning enabled: the second PUT would leave an extra
 * version (the engine asks GetBucketVersioning once per run and bucket).
 */

export type Operation =
  | 'PutObject' | 'CreateMultipartUpload' | 'UploadPart' | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload' | 'ListObjectsV2' | 'HeadObject' | 'GetObject' | 'DeleteObjects' | 'DeleteObject'
  | 'ListMultipartUploads' | 'ListParts';

const HEDGEABLE: Readonly<Record<Operation, 'read' | 'write' | false>> = {
  PutObject: 'write',
  UploadPart: 'write',
  GetObject: 'read',
  HeadObject: 'read',
  ListObjectsV2: 'read',
  CreateMultipartUpload: false,
  CompleteMultipartUpload: false,
  AbortMultipartUpload: false,
  DeleteObjects: false,
  DeleteObject: false,
  // resume's lookups: reads, but one per multipart file; a stall is cut by the deadline
  ListMultipartUploads: false,
  ListParts: false,
};

/** 'read' or 'write' when `op` may be hedged at all (a write still needs versioning off), else false. */
export function hedgeKind(op: Operation): 'read' | 'write' | false {
  return HEDGEABLE[op];
}

/**
 * Is a request that started at `startedAtMs` on `ep` slow on its own? Yes when a request that
 * started after it has answered there, or when none started after it (nothing to compare). No
 * while every later one is still waiting too: the endpoint is slow as a whole, and a copy sent to
 * it again would wait with them. Bench H3 probes: the fault-free gateway's answers past 3× the
 * median came in bursts of ~15 that nothing overtook, and hedging them spent the budget that the
 * late answers needed (each late one was overtaken by 8-40 others before 3× the median).
 */
export function overtaken(startedAtMs: number, ep: { latestStartMs: number; latestAnsweredStartMs: number }): boolean {
  return ep.latestStartMs <= startedAtMs || ep.latestAnsweredStartMs > startedAtMs;
}

/**
 * A token bucket (as gRPC's retry throttling and Finagle's RetryBudget): every request adds
 * `fraction` of a token, up to `burst`; a hedge takes a whole one. Over any stretch of a run
 * hedges ≤ fraction × requests + burst, however slow every request gets: an overloaded endpoint
 * is not sent twice the load.
 */
export class HedgeBudget {
  private tokens: number;

  /** `initialTokens` (≤ burst, so the bound above holds): hedges a run may send before it earned them. */
  constructor(readonly fraction: number, readonly burst: number, initialTokens = 0) {
    this.tokens = Math.min(burst, initialTokens);
  }

  /** A request started. */
  deposit(): void {
    this.tokens = Math.min(this.burst, this.tokens + this.fraction);
  }

  /** Gives back a hedge taken but not sent (no endpoint had a place for it). */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** Takes one hedge from the budget; false when there is none left. */
  tryTake(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
