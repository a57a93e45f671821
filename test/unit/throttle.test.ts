/**
 * The request engine under throttling and skew (issue 10, items 7, 8 and the timer clamp of 10):
 * which failures feed a breaker, the per-endpoint AIMD limit, throttled retries that do not
 * spend --retries, clock-offset learning from a skew answer's Date header, and timers above
 * 2^31−1 ms that must not fire at once.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AimdLimit } from '../../src/endpoints/concurrency-limit.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import { DEFAULT_ESTIMATOR, type EstimatorConfig, type RetryConfig } from '../../src/config/defaults.js';
import { RequestEngine, RequestFailed } from '../../src/engine/request.js';
import { backoffMs, errorFacts, feedsBreaker, isThrottle } from '../../src/engine/retry-policy.js';
import { MAX_TIMER_MS, clampTimerMs } from '../../src/config/units.js';
import { silentLogger } from '../../src/logger.js';

const s3err = (name: string, status: number, headers: Record<string, string> = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, $response: { statusCode: status, headers } });
const netErr = (code: string) => Object.assign(new Error(code), { code });

const cleanups: Array<() => unknown> = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

function engineFor(opts: { url?: string; retry?: Partial<RetryConfig>; estimator?: Partial<EstimatorConfig>; maxConcurrent?: number; threshold?: number } = {}): { engine: RequestEngine; ep: Endpoint } {
  const ep = new Endpoint({
    name: 'ep1', url: opts.url ?? 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: opts.threshold ?? 3, cooldownMs: 60_000 },
  }, { maxConcurrent: opts.maxConcurrent ?? 8, estimator: { ...DEFAULT_ESTIMATOR, ...opts.estimator } }, silentLogger);
  const pool = new EndpointPool([ep], { mode: 'pool', strategy: 'adaptive', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const retry: RetryConfig = { retries: 2, backoffBaseMs: 1, backoffCapMs: 5, ...opts.retry };
  return { engine: new RequestEngine(pool, retry, new AbortController().signal, silentLogger), ep };
}

describe('which failures feed a breaker', () => {
  it.each([
    [netErr('ECONNREFUSED'), true, false],
    [netErr('ECONNRESET'), true, false],
    [new Error('socket hang up'), true, false],
    [netErr('DeadlineExceeded'), true, false],
    [s3err('InternalError', 500), true, false],
    [s3err('HTTP502', 502), true, false],
    [s3err('HTTP503', 503), true, false],
    [s3err('ServiceUnavailable', 503), false, true],
    [s3err('SlowDown', 503), false, true],
    [s3err('HTTP429', 429), false, true],
    [s3err('TooManyRequestsException', 429), false, true],
    [s3err('Throttling', 400), false, true],
    [s3err('BadDigest', 400), false, false],
    [s3err('RequestTimeTooSkewed', 403), false, false],
    [s3err('XAmzContentSHA256Mismatch', 400), false, false],
    [s3err('RequestTimeout', 400), false, false],
    [s3err('AccessDenied', 403), false, false],
    [netErr('EMFILE'), false, false],
    [Object.assign(new Error('changed'), { name: 'BodyLengthMismatch', code: 'BodyLengthMismatch' }), false, false],
    [new Error('some local bug'), false, false],
  ])('%s → breaker %s, throttle %s', (err, health, throttle) => {
    const facts = errorFacts(err);
    expect(feedsBreaker(facts)).toBe(health);
    expect(isThrottle(facts)).toBe(throttle);
  });
});

describe('AimdLimit', () => {
  it('halves on a throttle, once per window of requests sent under the old limit, floor 1', () => {
    const l = new AimdLimit(16);
    expect(l.limit).toBe(16);
    l.onThrottle(0, 10);
    expect(l.limit).toBe(8);
    // the other 15 requests of that window answer SlowDown too: sent before the decrease, not counted
    for (let i = 0; i < 15; i++) l.onThrottle(5, 11 + i);
    expect(l.limit).toBe(8);
    l.onThrottle(30, 40); // sent after the decrease
    expect(l.limit).toBe(4);
    l.onThrottle(41, 42); l.onThrottle(43, 44); l.onThrottle(45, 46); l.onThrottle(47, 48);
    expect(l.limit).toBe(1);
  });

  it('adds one per window of successes (at most 10), up to its maximum', () => {
    const l = new AimdLimit(16);
    for (let t = 0; t < 5; t++) l.onThrottle(t * 10, t * 10 + 1);
    expect(l.limit).toBe(1);
    l.onSuccess();
    expect(l.limit).toBe(2);
    l.onSuccess();
    expect(l.limit).toBe(2);
    l.onSuccess();
    expect(l.limit).toBe(3);
    let successes = 3;
    while (l.limit < 16) { l.onSuccess(); successes++; }
    // 1+2+…+10 for 1→11, then 10 per step for 11→16
    expect(successes).toBe(55 + 5 * 10);
    for (let i = 0; i < 100; i++) l.onSuccess();
    expect(l.limit).toBe(16);
  });
});

describe('the pool under throttling', () => {
  it('a throttled release lowers the endpoint\'s room: the next request waits until fewer are in flight', async () => {
    const { engine, ep } = engineFor({ maxConcurrent: 4 });
    const pool = engine.pool;
    const signal = new AbortController().signal;
    const req = { bytes: 1, kind: 'write' as const };
    const held = [await pool.acquire(req, signal), await pool.acquire(req, signal), await pool.acquire(req, signal), await pool.acquire(req, signal)];
    pool.release(held.pop()!, 1, 'throttled', 'SlowDown', performance.now() - 5);
    expect(ep.limit.limit).toBe(2);
    let got = false;
    const next = pool.acquire(req, signal).then((e) => { got = true; return e; });
    pool.release(held.pop()!, 1, 'success');
    await new Promise((r) => setTimeout(r, 30));
    expect(got).toBe(false); // 2 in flight, limit 2
    pool.release(held.pop()!, 1, 'success');
    await next;
    expect(got).toBe(true);
    expect(ep.breaker.state).toBe('closed');
  });
});

describe('a throttled request', () => {
  it('does not spend --retries while the storm lasts, does not open the breaker, lowers the endpoint\'s limit', async () => {
    const { engine, ep } = engineFor({ retry: { retries: 2 } });
    let calls = 0;
    const result = await engine.run({
      op: 'PutObject', key: 'k', bytes: 10,
      send: async () => { if (++calls <= 12) throw s3err('SlowDown', 503); return 'ok'; },
    });
    expect(result).toBe('ok');
    expect(calls).toBe(13);
    expect(ep.breaker.state).toBe('closed');
    expect(ep.breaker.transitions).toEqual([]);
    expect(ep.limit.limit).toBeLessThan(8);
  });

  it('after its throttle budget, throttles count as retries: the request ends (bounded)', async () => {
    const { engine, ep } = engineFor({ retry: { retries: 2, throttleBudgetMs: 30 } });
    let calls = 0;
    const t0 = performance.now();
    const err = await engine.run({
      op: 'PutObject', key: 'k', bytes: 10, send: async () => { calls++; throw s3err('SlowDown', 503); },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestFailed);
    expect((err as RequestFailed).facts.code).toBe('SlowDown');
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(calls).toBeGreaterThan(3);
    expect(ep.breaker.state).toBe('closed');
  });

  it('--retries 0 (and `endpoints check`) never resends, throttled or not', async () => {
    const { engine } = engineFor({ retry: { retries: 0 } });
    let calls = 0;
    await expect(engine.run({ op: 'PutObject', key: 'k', bytes: 10, send: async () => { calls++; throw s3err('SlowDown', 503); } })).rejects.toThrow(RequestFailed);
    expect(calls).toBe(1);
  });

  it('network failures still open the breaker', async () => {
    const { engine, ep } = engineFor({ retry: { retries: 2 } });
    await expect(engine.run({ op: 'PutObject', key: 'k', bytes: 10, send: async () => { throw netErr('ECONNREFUSED'); } })).rejects.toThrow(RequestFailed);
    expect(ep.breaker.state).toBe('open');
  });
});

describe('timers above 2^31−1 ms', () => {
  it('clampTimerMs bounds every value setTimeout would misread', () => {
    expect(clampTimerMs(86_400_000 * 2 ** 10)).toBe(MAX_TIMER_MS);
    expect(clampTimerMs(Infinity)).toBe(MAX_TIMER_MS);
    expect(clampTimerMs(-5)).toBe(0);
    expect(clampTimerMs(Number.NaN)).toBe(0);
    expect(clampTimerMs(1234)).toBe(1234);
    // whole ms, rounded up: timers of one duration share Node's list for it; none fires before its time
    expect(clampTimerMs(78.3)).toBe(79);
    expect(clampTimerMs(0.2)).toBe(1);
    // a backoff cap or a Retry-After beyond the range is a wait of 2^31−1 ms, not of 1 ms
    expect(backoffMs(0, 100, 1e12, 1e11)).toBe(MAX_TIMER_MS);
  });

  it('a request-level deadline over 2^31 ms does not fire at once', async () => {
    const { engine } = engineFor();
    const r = await engine.run({ op: 'DeleteObjects', key: 'k', bytes: 0, deadlineMs: 3e9,
      send: async (_ep, signal) => {
        await new Promise((ok) => setTimeout(ok, 60));
        signal.throwIfAborted();
        return 'done';
      },
    });
    expect(r).toBe('done');
  });

  it('--max-deadline-ms 86,400,000 × backoff^attempt does not fire at once on a retry', async () => {
    // first deadline 1 day (minMs = maxMs), backoff 10: the third attempt's is 8.64e9 ms
    const { engine } = engineFor({ estimator: { minMs: 86_400_000, maxMs: 86_400_000, backoff: 10 }, retry: { retries: 3 }, threshold: 100 });
    let calls = 0;
    const r = await engine.run({
      op: 'PutObject', key: 'k', bytes: 10,
      send: async (_ep, signal) => {
        if (++calls <= 2) throw netErr('ECONNRESET');
        await new Promise((ok) => setTimeout(ok, 60));
        signal.throwIfAborted();
        return 'done';
      },
    });
    expect(r).toBe('done');
    expect(calls).toBe(3);
  });
});

describe('clock skew', () => {
  /** An S3-ish server whose clock runs `aheadMs` ahead: RequestTimeTooSkewed beyond 5 min, else 200. */
  async function skewedServer(aheadMs: number): Promise<{ url: string; seen: string[] }> {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const amzDate = String(req.headers['x-amz-date']);
        seen.push(amzDate);
        const signed = Date.parse(amzDate.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
        const serverNow = Date.now() + aheadMs;
        const headers = { date: new Date(serverNow).toUTCString() };
        if (Math.abs(serverNow - signed) > 5 * 60_000) {
          const body = '<Error><Code>RequestTimeTooSkewed</Code><Message>skewed</Message></Error>';
          res.writeHead(403, { ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        } else {
          res.writeHead(200, { ...headers, etag: '"0123456789abcdef0123456789abcdef"', 'content-length': 0 });
          res.end();
        }
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    cleanups.push(() => new Promise<void>((ok) => { server.closeAllConnections(); server.close(() => ok()); }));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('learns the offset from the Date header of a skew answer, re-signs at once, and shares it with the SDK client', async () => {
    const aheadMs = 20 * 60_000;
    const srv = await skewedServer(aheadMs);
    const { engine, ep } = engineFor({ url: srv.url, retry: { retries: 0 } });
    const put = (key: string) => engine.run({
      op: 'PutObject', key, bytes: 3,
      send: (e, signal) => e.http!.putObject({ bucket: 'b', key, body: Buffer.from('abc'), contentLength: 3 }, signal),
    });
    // --retries 0: the corrected re-send is not a retry of a failure
    expect((await put('a')).status).toBe(200);
    expect(srv.seen).toHaveLength(2);
    expect(Math.abs(ep.clockOffsetMs - aheadMs)).toBeLessThan(2_000);
    expect(Math.abs(((await ep.sdkClient()).config.systemClockOffset ?? 0) - aheadMs)).toBeLessThan(2_000);
    // later requests are signed with the corrected clock at once
    expect((await put('b')).status).toBe(200);
    expect(srv.seen).toHaveLength(3);
    expect(ep.breaker.transitions).toEqual([]);
  });
});
