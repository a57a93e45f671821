import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { resolvePoolSpec, type PoolSpec } from '../../src/config/pool-config.js';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { AllEndpointsDown, EndpointPool, type AcquireRequest } from '../../src/endpoints/pool.js';
import { silentLogger } from '../../src/logger.js';

const pools: EndpointPool[] = [];
afterEach(() => { for (const p of pools.splice(0)) p.destroy(); });

function makePool(spec: Partial<PoolSpec> & { urls?: string[]; weights?: number[]; cooldownMs?: number; threshold?: number; maxConcurrent?: number }): EndpointPool {
  const urls = spec.urls ?? ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'];
  const endpoints = urls.map((url, i) => new Endpoint({
    name: `ep${i + 1}`, url, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: spec.weights?.[i] ?? 1, breaker: { threshold: spec.threshold ?? 2, cooldownMs: spec.cooldownMs ?? 1000 },
    ...(spec.maxConcurrent !== undefined && { maxConcurrent: spec.maxConcurrent }),
  }, { maxConcurrent: 64, estimator: DEFAULT_ESTIMATOR }, silentLogger));
  const pool = new EndpointPool(endpoints, {
    mode: spec.mode ?? 'pool', strategy: spec.strategy ?? 'adaptive', bucketMap: spec.bucketMap ?? [], sharedStorage: true,
  }, spec.cooldownMs !== undefined ? spec.cooldownMs * 2 : undefined);
  pools.push(pool);
  return pool;
}

const signal = new AbortController().signal;
const write = { bytes: 4096, kind: 'write' as const };

async function spread(pool: EndpointPool, n: number, req: AcquireRequest = write, hold = false): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const ep = await pool.acquire(req, signal);
    counts[ep.name] = (counts[ep.name] ?? 0) + 1;
    if (!hold) pool.release(ep, req.bytes, 'success');
  }
  return counts;
}

describe('routing', () => {
  it('round-robin spreads evenly, and in proportion to weight', async () => {
    expect(await spread(makePool({ strategy: 'round-robin' }), 9)).toEqual({ ep1: 3, ep2: 3, ep3: 3 });
    expect(await spread(makePool({ strategy: 'round-robin', weights: [2, 1, 1] }), 8)).toEqual({ ep1: 4, ep2: 2, ep3: 2 });
  });

  it('least-loaded picks the endpoint with the fewest requests in flight', async () => {
    const pool = makePool({ strategy: 'least-loaded' });
    const held = await spread(pool, 6, write, true); // nothing released: 2 each
    expect(held).toEqual({ ep1: 2, ep2: 2, ep3: 2 });
    pool.release(pool.endpoints[1]!, 4096, 'success');
    expect((await pool.acquire(write, signal)).name).toBe('ep2');
  });

  it('adaptive sends big requests away from an endpoint measured 5x slower', async () => {
    const pool = makePool({ strategy: 'adaptive' });
    const [a, b, slow] = pool.endpoints as [Endpoint, Endpoint, Endpoint];
    const mib8 = 8 * 1024 * 1024;
    for (const ep of [a, b]) for (let i = 0; i < 10; i++) ep.estimator.record(mib8, 100); // ~84 MB/s
    for (let i = 0; i < 10; i++) slow.estimator.record(mib8, 500); // ~17 MB/s
    const counts = await spread(pool, 60, { bytes: mib8, kind: 'write' }, true);
    expect(counts.ep3 ?? 0).toBeLessThanOrEqual(60 / 5 / 2 + 2);
    expect((counts.ep1 ?? 0) + (counts.ep2 ?? 0)).toBeGreaterThanOrEqual(50);
  });

  it('adaptive assumes an unmeasured endpoint is as slow as the slowest measured one', async () => {
    const pool = makePool({ strategy: 'adaptive', urls: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] });
    const mib8 = 8 * 1024 * 1024;
    for (let i = 0; i < 10; i++) pool.endpoints[0]!.estimator.record(mib8, 1000); // 8 MB/s, below the 10 MB/s prior
    const counts = await spread(pool, 20, { bytes: mib8, kind: 'write' }, true);
    expect(counts).toEqual({ ep1: 10, ep2: 10 }); // equal, not flooding the unmeasured one
  });

  it('bucket-map routes by bucket glob and falls back to the strategy', async () => {
    const pool = makePool({ strategy: 'round-robin', bucketMap: [{ pattern: 'logs-*', endpoint: 'ep3' }] });
    expect(await spread(pool, 4, { ...write, bucket: 'logs-2026' })).toEqual({ ep3: 4 });
    expect(Object.keys(await spread(pool, 6, { ...write, bucket: 'data' })).sort()).toEqual(['ep1', 'ep2', 'ep3']);
  });

  it('fails over: the retry avoids the endpoint that just failed', async () => {
    const pool = makePool({ strategy: 'round-robin' });
    for (let i = 0; i < 10; i++) {
      const first = await pool.acquire(write, signal);
      pool.release(first, 4096, 'neutral');
      const retry = await pool.acquire({ ...write, avoid: first }, signal);
      expect(retry).not.toBe(first);
      pool.release(retry, 4096, 'success');
    }
  });

  it('respects each endpoint\'s maxConcurrent and waits for room', async () => {
    const pool = makePool({ strategy: 'round-robin', maxConcurrent: 1, urls: ['http://127.0.0.1:1'] });
    const ep = await pool.acquire(write, signal);
    let got = false;
    const waiting = pool.acquire(write, signal).then((e) => { got = true; return e; });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toBe(false);
    pool.release(ep, 4096, 'success');
    expect(await waiting).toBe(ep);
  });

  it('fallback mode: writes to the first, reads in order', async () => {
    const pool = makePool({ mode: 'fallback' });
    expect(await spread(pool, 5)).toEqual({ ep1: 5 });
    const order = [];
    for (let i = 0; i < 3; i++) {
      const ep = await pool.acquire({ bytes: 0, kind: 'read', fallbackIndex: i }, signal);
      order.push(ep.name);
      pool.release(ep, 0, 'neutral');
    }
    expect(order).toEqual(['ep1', 'ep2', 'ep3']);
  });
});

describe('breakers in the pool', () => {
  it('an open endpoint gets no work until its cooldown, then one probe', async () => {
    const pool = makePool({ strategy: 'round-robin', threshold: 2, cooldownMs: 150 });
    const bad = pool.endpoints[1]!;
    for (let i = 0; i < 2; i++) { bad.stats.inFlight++; pool.release(bad, 0, 'failure', 'ECONNREFUSED'); }
    expect(bad.breaker.state).toBe('open');
    expect(await spread(pool, 10)).toEqual({ ep1: 5, ep3: 5 });
    await new Promise((r) => setTimeout(r, 160));
    const counts = await spread(pool, 9, write, true);
    expect(counts.ep2).toBe(1); // the half-open probe, and only one while it is out
  });

  it('when every endpoint stays open, waits a bounded time then throws AllEndpointsDown', async () => {
    const pool = makePool({ strategy: 'round-robin', threshold: 1, cooldownMs: 100, urls: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] });
    for (const ep of pool.endpoints) { ep.stats.inFlight++; pool.release(ep, 0, 'failure', 'ECONNREFUSED'); }
    // the probes are let through after the cooldown…
    const probe1 = await pool.acquire(write, signal);
    const probe2 = await pool.acquire(write, signal);
    pool.release(probe1, 4096, 'failure', 'ECONNREFUSED');
    pool.release(probe2, 4096, 'failure', 'ECONNREFUSED');
    // …and fail again; the next request keeps getting probes until the bounded wait (2 × 100 ms) is over
    const t0 = performance.now();
    let err: unknown;
    for (let i = 0; i < 50 && !err; i++) {
      try {
        const ep = await pool.acquire(write, signal);
        pool.release(ep, 4096, 'failure', 'ECONNREFUSED');
      } catch (e) { err = e; }
    }
    expect(err).toBeInstanceOf(AllEndpointsDown);
    expect((err as Error).message).toMatch(/every endpoint is failing: ep1 http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\), ep2/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('pool config', () => {
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });
  const write = (obj: unknown): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-cfg-'));
    dirs.push(dir);
    const f = path.join(dir, 'c.json');
    fs.writeFileSync(f, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return f;
  };

  it('reads endpoints with their own settings and defaults the rest', () => {
    const spec = resolvePoolSpec({ configFile: write({
      endpoints: [
        { name: 'a', url: 'http://127.0.0.1:7480/', accessKeyId: 'AK', secretAccessKey: 'SK', maxConcurrent: 8, weight: 2, breaker: { threshold: 3 } },
        { url: 'http://127.0.0.1:7481', region: 'eu-west-1' },
      ],
      strategy: 'least-loaded', bucketMap: { 'logs-*': 'a' },
    }) }, {});
    expect(spec.endpoints[0]).toMatchObject({ name: 'a', url: 'http://127.0.0.1:7480', maxConcurrent: 8, weight: 2, breaker: { threshold: 3, cooldownMs: 10_000 }, pathStyle: true });
    expect(spec.endpoints[1]).toMatchObject({ name: 'ep2', region: 'eu-west-1', weight: 1 });
    expect(spec).toMatchObject({ mode: 'pool', strategy: 'least-loaded', sharedStorage: true, bucketMap: [{ pattern: 'logs-*', endpoint: 'a' }] });
  });

  it.each([
    [{ endpoints: [{ url: 'ftp://x' }] }, /endpoints\[0\]\.url: 'ftp:\/\/x': only http/],
    [{ endpoints: [{ url: 'http://a', maxConcurrent: 0 }] }, /endpoints\[0\]\.maxConcurrent: must be a whole number from 1 to 1024, got 0/],
    [{ endpoints: [{ url: 'http://a', colour: 'red' }] }, /endpoints\[0\]\.colour: unknown field/],
    [{ endpoints: [{ url: 'http://a', accessKeyId: 'AK' }] }, /endpoints\[0\]: accessKeyId and secretAccessKey go together/],
    [{ endpoints: [{ url: 'http://a', secretAccessKey: 42, accessKeyId: 'x' }] }, /endpoints\[0\]\.secretAccessKey: must be a non-empty string, got \(hidden\)/],
    [{ endpoints: [{ url: 'http://a' }], mode: 'mirror' }, /mode: must be one of pool, replicate, fallback, got "mirror"/],
    [{ endpoints: [{ name: 'x', url: 'http://a' }], bucketMap: { b: 'nope' } }, /bucketMap\["b"\]: must name an endpoint \(x\)/],
    [{ endpoints: [{ name: 'x', url: 'http://a' }, { name: 'x', url: 'http://b' }] }, /endpoints\[1\]\.name: "x" is used twice/],
    ['{ not json', /not valid JSON/],
  ])('rejects %j naming the field', (cfg, message) => {
    const file = write(cfg);
    expect(() => resolvePoolSpec({ configFile: file }, {})).toThrow(message);
    try { resolvePoolSpec({ configFile: file }, {}); } catch (e) { expect((e as Error).message).toContain(`--config ${file}`); }
  });

  it('never echoes a secret in an error', () => {
    const file = write({ endpoints: [{ url: 'http://a', accessKeyId: 'AK', secretAccessKey: 'TOPSECRET', bogus: 1 }] });
    expect(() => resolvePoolSpec({ configFile: file }, {})).toThrow(/bogus/);
    try { resolvePoolSpec({ configFile: file }, {}); } catch (e) { expect((e as Error).message).not.toContain('TOPSECRET'); }
  });

  it('env overrides the file, flags override both', () => {
    const file = write({ endpoints: [{ url: 'http://127.0.0.1:1', maxConcurrent: 4 }], mode: 'pool' });
    const env = { S3X_CONFIG: file, S3X_ENDPOINT_1_MAX_CONCURRENT: '9', S3X_ENDPOINT_2_URL: 'http://127.0.0.1:2', S3X_ENDPOINT_2_ACCESS_KEY_ID: 'AK', S3X_ENDPOINT_2_SECRET_ACCESS_KEY: 'SK', S3X_MODE: 'replicate' };
    const spec = resolvePoolSpec({}, env);
    expect(spec.endpoints.map((e) => [e.url, e.maxConcurrent])).toEqual([['http://127.0.0.1:1', 9], ['http://127.0.0.1:2', undefined]]);
    expect(spec.endpoints[1]).toMatchObject({ accessKeyId: 'AK', secretAccessKey: 'SK' });
    expect(spec.mode).toBe('replicate');
    expect(resolvePoolSpec({ mode: 'fallback' }, env).mode).toBe('fallback');
    expect(resolvePoolSpec({ endpointUrls: ['http://127.0.0.1:9'] }, env).endpoints.map((e) => e.url)).toEqual(['http://127.0.0.1:9']);
    expect(() => resolvePoolSpec({}, { S3X_ENDPOINT_1_COLOUR: 'x' })).toThrow(/S3X_ENDPOINT_1_COLOUR: unknown field COLOUR/);
    expect(() => resolvePoolSpec({}, { S3X_ENDPOINT_1_URL: 'http://a', S3X_ENDPOINT_1_WEIGHT: 'heavy' })).toThrow(/S3X_ENDPOINT_1_WEIGHT: must be a number/);
  });
});
