/**
 * The token buckets of `--bwlimit` / `--tpslimit`: the run's (made once, shared by every
 * endpoint) and each endpoint's own (its `bwlimit` / `tpslimit` in the config file). A request
 * takes from all that apply, so every limit holds at once.
 */
import type { RunLimits } from '../config/options.js';
import type { BwLimit } from '../config/units.js';
import { TokenBucket } from './token-bucket.js';

/** A byte bucket and how many bodies may stream through it at once (its fair share is rate ÷ sharers). */
export interface BodyLimit {
  bucket: TokenBucket;
  sharers: number;
}

/** The buckets one endpoint's requests take from. */
export interface Limits {
  /** upload bodies (PutObject, UploadPart) */
  up: BodyLimit[];
  /** download bodies (GetObject) */
  down: BodyLimit[];
  /** one token per HTTP request (every attempt) */
  requests: TokenBucket[];
}

export const NO_LIMITS: Limits = Object.freeze({ up: [], down: [], requests: [] }) as unknown as Limits;

/** 100 ms of a byte limit may go at once after a pause (and the bucket starts with it): ≤ 1% over 10 s. */
const BYTE_BURST_SECONDS = 0.1;

function byteBucket(bytesPerSecond: number, sharers: number): BodyLimit {
  return { bucket: new TokenBucket(bytesPerSecond, Math.max(64 * 1024, bytesPerSecond * BYTE_BURST_SECONDS)), sharers };
}

/** Buckets of one bandwidth limit and request rate, for `sharers` bodies at most at once. */
export function makeLimits(bw: BwLimit, tpsLimit: number, tpsBurst: number, sharers: number): Limits {
  const both = bw.bytesPerSecond !== undefined ? [byteBucket(bw.bytesPerSecond, sharers)] : [];
  const up = bw.upBytesPerSecond !== undefined ? [byteBucket(bw.upBytesPerSecond, sharers)] : [];
  const down = bw.downBytesPerSecond !== undefined ? [byteBucket(bw.downBytesPerSecond, sharers)] : [];
  return {
    up: [...both, ...up],
    down: [...both, ...down],
    requests: tpsLimit > 0 ? [new TokenBucket(tpsLimit, tpsBurst)] : [],
  };
}

/** The run's buckets: at most `concurrency` bodies stream at once (one per request slot). */
export function runLimits(limits: RunLimits | undefined, concurrency: number): Limits {
  return limits ? makeLimits(limits.bwlimit, limits.tpsLimit, limits.tpsBurst, concurrency) : NO_LIMITS;
}

/** The run's buckets followed by an endpoint's own. */
export function joinLimits(run: Limits, own: Limits): Limits {
  return { up: [...run.up, ...own.up], down: [...run.down, ...own.down], requests: [...run.requests, ...own.requests] };
}

/**
 * The least time a body of `bytes` may take under these limits, ms: each bucket serves its
 * takers in order, one chunk each, so a body among `sharers` gets at least rate ÷ sharers.
 * The deadline never goes below a multiple of it (endpoints/estimator.ts `deadlineMs`).
 */
export function limitedTransferMs(bytes: number, limits: readonly BodyLimit[]): number {
  // a chunk waits in each bucket in turn: the times add up
  let ms = 0;
  for (const l of limits) ms += (bytes * l.sharers * 1000) / l.bucket.ratePerSecond;
  return ms;
}

/** An endpoint's own buckets (`bwlimit` / `tpslimit` in its config entry): at most `sharers` bodies at once there. */
export function endpointLimits(spec: { bwlimit?: BwLimit; tpslimit?: number }, tpsBurst: number, sharers: number): Limits {
  return makeLimits(spec.bwlimit ?? {}, spec.tpslimit ?? 0, tpsBurst, sharers);
}
