import { describe, expect, it } from 'vitest';
import { backoffMs, decide, errorFacts } from '../../src/engine/retry-policy.js';

const s3err = (name: string, status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers } });

describe('error classification', () => {
  it.each([
    [s3err('SlowDown', 503), 'retry'],
    [s3err('InternalError', 500), 'retry'],
    [s3err('RequestTimeout', 400), 'retry'],
    [s3err('UnknownThing', 502), 'retry'],
    [s3err('UnknownThing', 504), 'retry'],
    [s3err('NoSuchBucket', 404), 'fatal'],
    [s3err('InvalidAccessKeyId', 403), 'fatal'],
    [s3err('SignatureDoesNotMatch', 403), 'fatal'],
    [s3err('AccessDenied', 403), 'fail'],
    [s3err('UnknownThing', 400), 'fail'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'retry'],
    [Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'retry'],
    [new Error('socket hang up'), 'retry'],
    [Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }), 'fail'],
    [Object.assign(new Error('no answer'), { code: 'DeadlineExceeded' }), 'retry'],
    // download refused a key (a directory swapped for a link): retrying cannot help
    [Object.assign(new Error('refused: the key …'), { code: 'Refused' }), 'fail'],
  ])('%s → %s', (err, expected) => {
    expect(decide(errorFacts(err))).toBe(expected);
  });

  it('reads Retry-After in seconds and as a date', () => {
    expect(errorFacts(s3err('SlowDown', 503, { 'retry-after': '2' })).retryAfterMs).toBe(2000);
    const at = new Date(Date.now() + 5000).toUTCString();
    const ms = errorFacts(s3err('SlowDown', 503, { 'retry-after': at })).retryAfterMs!;
    expect(ms).toBeGreaterThan(3000);
    expect(ms).toBeLessThanOrEqual(5000);
  });
});

describe('full-jitter backoff', () => {
  it('stays within [0, min(cap, base × 2^retry)]', () => {
    for (let retry = 0; retry < 12; retry++) {
      const bound = Math.min(10_000, 100 * 2 ** retry);
      for (let i = 0; i < 200; i++) {
        const ms = backoffMs(retry, 100, 10_000);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(bound);
      }
      expect(backoffMs(retry, 100, 10_000, undefined, () => 0.999999)).toBeCloseTo(bound, 0);
      expect(backoffMs(retry, 100, 10_000, undefined, () => 0)).toBe(0);
    }
  });

  it('waits at least Retry-After (capped)', () => {
    expect(backoffMs(0, 100, 10_000, 3000, () => 0)).toBe(3000);
    expect(backoffMs(0, 100, 10_000, 60_000, () => 0)).toBe(10_000);
  });
});
