/** ops/fetch-mode.ts: which objects are buffered, streamed or ranged, by size, ETag and the run's thresholds. */
import { describe, expect, it } from 'vitest';
import { BUFFERED_MAX_BYTES, fetchMode, VERIFIED_RANGED_MIN_BYTES, verifiedThreshold } from '../../src/ops/fetch-mode.js';

const MIB = 1024 * 1024;
const MD5_ETAG = '"0123456789abcdef0123456789abcdef"';
const MULTIPART_ETAG = '"0123456789abcdef0123456789abcdef-3"';
/** the download defaults: 64 MiB, and for checked MD5s the threshold picked when none is given */
const defaults = { thresholdBytes: 64 * MIB, verifiedThresholdBytes: verifiedThreshold(undefined), verify: true, sseC: false };

describe('fetchMode', () => {
  it('streams an object whose MD5 is checked below 256 MiB (no flag given), ranges it from there', () => {
    expect(VERIFIED_RANGED_MIN_BYTES).toBe(256 * MIB);
    expect(fetchMode(64 * MIB, MD5_ETAG, defaults)).toBe('streamed');
    expect(fetchMode(256 * MIB - 1, MD5_ETAG, defaults)).toBe('streamed');
    expect(fetchMode(256 * MIB, MD5_ETAG, defaults)).toBe('ranged');
  });

  it('ranges from the 64 MiB threshold what has no MD5 to check: --no-verify, multipart ETags, SSE-C, no ETag', () => {
    expect(fetchMode(64 * MIB, MD5_ETAG, { ...defaults, verify: false })).toBe('ranged');
    expect(fetchMode(64 * MIB, MULTIPART_ETAG, defaults)).toBe('ranged');
    expect(fetchMode(64 * MIB, MD5_ETAG, { ...defaults, sseC: true })).toBe('ranged');
    expect(fetchMode(64 * MIB, undefined, defaults)).toBe('ranged');
    expect(fetchMode(64 * MIB - 1, MULTIPART_ETAG, defaults)).toBe('streamed');
  });

  it('a given --multipart-threshold applies to every object, checked or not', () => {
    const given = { ...defaults, thresholdBytes: 5 * MIB, verifiedThresholdBytes: verifiedThreshold(5 * MIB) };
    expect(fetchMode(5 * MIB, MD5_ETAG, given)).toBe('ranged');
    expect(fetchMode(5 * MIB - 1, MD5_ETAG, given)).toBe('streamed');
    // without verifiedThresholdBytes (a caller that does not set it): thresholdBytes for all
    expect(fetchMode(64 * MIB, MD5_ETAG, { thresholdBytes: 64 * MIB, verify: true, sseC: false })).toBe('ranged');
  });

  it('buffers small objects below the threshold, whatever their ETag', () => {
    expect(fetchMode(BUFFERED_MAX_BYTES, MD5_ETAG, defaults)).toBe('buffered');
    expect(fetchMode(BUFFERED_MAX_BYTES + 1, MD5_ETAG, defaults)).toBe('streamed');
    expect(fetchMode(0, MULTIPART_ETAG, defaults)).toBe('buffered');
    // a threshold below the buffer limit ranges even small objects (as before)
    expect(fetchMode(1000, MD5_ETAG, { ...defaults, thresholdBytes: 1000, verifiedThresholdBytes: 1000 })).toBe('ranged');
  });
});
