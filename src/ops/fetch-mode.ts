/**
 * How `download` fetches one listed object: read into memory, one GET streamed to disk, or
 * parallel ranged GETs. Pure: the listing's size and ETag and the run's plan decide.
 *
 * An object whose MD5 is checked (a plain-MD5 ETag, verification on, no SSE-C) is hashed while it
 * is written (fs/follow-md5.ts: the file's written prefix). One stream arrives in file order, so
 * it is hashed as it comes; ranged parts arrive side by side, so the written prefix grows slowly
 * and most bytes are hashed only once the last part is in, a pass after the download
 * (docs/benchmarks.md, "Correction"). So such objects use their own threshold,
 * by default 256 MiB: rclone's --multi-thread-cutoff, below which it also streams and hashes.
 */
import { md5FromEtag } from '../fs/md5.js';

/** Objects up to this size are read into memory and written in one go. */
export const BUFFERED_MAX_BYTES = 256 * 1024;
/** Default threshold of ranged GETs for an object whose MD5 is checked (rclone's --multi-thread-cutoff). */
export const VERIFIED_RANGED_MIN_BYTES = 256 * 1024 * 1024;

export type FetchMode = 'buffered' | 'streamed' | 'ranged';

export interface FetchThresholds {
  /** objects of at least this size are ranged */
  thresholdBytes: number;
  /** the same for objects whose MD5 is checked; default `thresholdBytes` */
  verifiedThresholdBytes?: number;
  verify: boolean;
  /** SSE-C objects: the ETag is no MD5 of the bytes */
  sseC: boolean;
}

/** The way to fetch an object of `bytes` bytes listed with `etag`. */
export function fetchMode(bytes: number, etag: string | undefined, t: FetchThresholds): FetchMode {
  const checked = t.verify && !t.sseC && md5FromEtag(etag) !== undefined;
  const threshold = checked ? t.verifiedThresholdBytes ?? t.thresholdBytes : t.thresholdBytes;
  if (bytes <= BUFFERED_MAX_BYTES && bytes < threshold) return 'buffered';
  return bytes >= threshold ? 'ranged' : 'streamed';
}

/**
 * The threshold for objects whose MD5 is checked: the one given (--multipart-threshold, applies
 * to every object), else the 256 MiB default.
 */
export function verifiedThreshold(givenThresholdBytes: number | undefined): number {
  return givenThresholdBytes ?? VERIFIED_RANGED_MIN_BYTES;
}
