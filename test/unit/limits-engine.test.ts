/**
 * The request engine under --tpslimit / --bwlimit (src/engine/request.ts with
 * src/endpoints/limits.ts) against a scripted fake store: every attempt takes a request token,
 * and a limited body's deadline is never below fraction × the time the limit imposes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { limitedTransferMs, makeLimits, type Limits } from '../../src/endpoints/limits.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import { RequestEngine } from '../../src/engine/request.js';
import { silentLogger } from '../../src/logger.js';
import { FakeStore, netError } from '../support/fake-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function setup(store: FakeStore, limits: Limits) {
  const ep = new Endpoint({
    name: store.name, url: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 50, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: { ...DEFAULT_ESTIMATOR, minMs: 100, expectedMBps: 1000 }, limits }, silentLogger, store);
  const pool = new EndpointPool([ep], { mode: 'pool', strategy: 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const engine = new RequestEngine(pool, { retries: 3, backoffBaseMs: 1, backoffCapMs: 5 }, new AbortController().signal, silentLogger);
  return { ep, engine };
}

describe('RequestEngine under limits', () => {
  it('takes one --tpslimit token per attempt, retries included, for every kind of request', async () => {
    const limits = makeLimits({}, 1000, 100, 1);
    const bucket = limits.requests[0]!;
    let takes = 0;
    const take = bucket.take.bind(bucket);
    bucket.take = (n, signal) => { takes += n; return take(n, signal); };
    const store = new FakeStore('ep1').script({ error: netError('ECONNRESET') }, {}, {}, { error: netError('ECONNRESET') }, {});
    const { engine } = setup(store, limits);
    await engine.run({ op: 'PutObject', key: 'a', bytes: 3, send: (e, s) => e.store.putObject({ bucket: 'b', key: 'a', body: Buffer.alloc(3), contentLength: 3 }, s) });
    await engine.run({ op: 'ListObjectsV2', key: 'b', bytes: 0, kind: 'read', send: (e, s) => e.store.listObjectsV2({ bucket: 'b' }, s) });
    await engine.run({ op: 'DeleteObject', key: 'a', bytes: 0, send: (e, s) => e.store.deleteObject({ bucket: 'b', key: 'a' }, s) });
    expect(store.calls).toHaveLength(5);
    expect(takes).toBe(5);
  });

  it('gives a limited body at least fraction × the time the limit imposes, where the prior alone would cut it', async () => {
    const limits = makeLimits({ bytesPerSecond: 1024 * 1024 }, 0, 1, 1);
    const store = new FakeStore('ep1').script({ hang: 'reason' });
    const { engine } = setup(store, limits);
    const bytes = 100_000;
    await expect(engine.run({
      op: 'PutObject', key: 'a', bytes, retries: 0,
      send: (e, s) => e.store.putObject({ bucket: 'b', key: 'a', body: Buffer.alloc(bytes), contentLength: bytes }, s),
    })).rejects.toThrow(/DeadlineExceeded/);
    const reason = store.calls[0]!.abortReason as Error;
    const ms = Number(/within the (\d+) ms deadline/.exec(reason.message)![1]);
    // the prior (1000 MB/s) expects 0.1 ms: the floor, 100 ms, would decide without the limit
    expect(ms).toBeGreaterThanOrEqual(Math.floor(3 * limitedTransferMs(bytes, limits.up)));
    expect(ms).toBeGreaterThan(250);
  });
});
