/**
 * The token buckets of `--bwlimit` / `--tpslimit`: the run's (made once, shared by every
 * endpoint) and each endpoint's own (its `bwlimit` / `tpslimit` in the config file). A request
 * takes from all that apply, so every limit holds at once.
 */
import type { RunLimits } from '../config/options.js';
import type { BwLimit } from '../config/units.js';
import { realClock, TokenBucket, type BucketClock } from './token-bucket.js';

/** Largest take: small enough that concurrent bodies interleave finely, large enough to cost little CPU. */
export const CHUNK_BYTES = 64 * 1024;

/** The bytes one body takes at once from `buckets` (smaller for slow limits: ≤ 1/20 s of the slowest). */
export function chunkBytesFor(buckets: readonly TokenBucket[]): number {
  const slowest = Math.min(...buckets.map((b) => b.ratePerSecond));
  return Math.max(1024, Math.min(CHUNK_BYTES, Math.floor(slowest / 20)));
}

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

function byteBucket(bytesPerSecond: number, sharers: number, clock: BucketClock): BodyLimit {
  return { bucket: new TokenBucket(bytesPerSecond, Math.max(CHUNK_BYTES, bytesPerSecond * BYTE_BURST_SECONDS), clock), sharers };
}

/** Buckets of one bandwidth limit and request rate, for `sharers` bodies at most at once. */
export function makeLimits(bw: BwLimit, tpsLimit: number, tpsBurst: number, sharers: number, clock: BucketClock = realClock): Limits {
  const both = bw.bytesPerSecond !== undefined ? [byteBucket(bw.bytesPerSecond, sharers, clock)] : [];
  const up = bw.upBytesPerSecond !== undefined ? [byteBucket(bw.upBytesPerSecond, sharers, clock)] : [];
  const down = bw.downBytesPerSecond !== undefined ? [byteBucket(bw.downBytesPerSecond, sharers, clock)] : [];
  return {
    up: [...both, ...up],
    down: [...both, ...down],
    requests: tpsLimit > 0 ? [new TokenBucket(tpsLimit, tpsBurst, clock)] : [],
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
 * The most time the limits can hold a body of `bytes` back, ms. Each bucket serves its takers
 * in order and a body takes ⌈bytes ÷ chunk⌉ times (./limited-store.ts), each time waiting at
 * most for one take (≤ CHUNK_BYTES) of each of the other `sharers` − 1 bodies: so
 * (bytes + takes × (sharers − 1) × CHUNK_BYTES) ÷ rate per bucket, added over the buckets (a take
 * waits in each in turn). The deadline never goes below a multiple of it
 * (endpoints/estimator.ts `deadlineMs`): a queue for tokens is not a stall.
 */
export function limitedTransferMs(bytes: number, limits: readonly BodyLimit[]): number {
  if (limits.length === 0 || bytes <= 0) return 0;
  const takes = Math.ceil(bytes / chunkBytesFor(limits.map((l) => l.bucket)));
  let ms = 0;
  for (const l of limits) ms += ((bytes + takes * (l.sharers - 1) * CHUNK_BYTES) * 1000) / l.bucket.ratePerSecond;
  return ms;
}

/** An endpoint's own buckets (`bwlimit` / `tpslimit` in its config entry): at most `sharers` bodies at once there. */
export function endpointLimits(spec: { bwlimit?: BwLimit; tpslimit?: number }, tpsBurst: number, sharers: number): Limits {
  return makeLimits(spec.bwlimit ?? {}, spec.tpslimit ?? 0, tpsBurst, sharers);
}
