/**
 * The RequestEngine (src/engine/request.ts) against scripted fake stores (test/support/fake-store.ts):
 * deadlines that grow per retry, retry then success, failover away from a failing endpoint,
 * 'fail' and 'fatal' decisions, a deadline cut read as DeadlineExceeded, and the run's abort.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Strategy } from '../../src/config/pool-config.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import { DEFAULT_ESTIMATOR, type EstimatorConfig } from '../../src/config/defaults.js';
import { Interrupted, RequestEngine, RequestFailed, type RequestReport, type RequestSpec } from '../../src/engine/request.js';
import type { RetryConfig } from '../../src/config/defaults.js';
import type { PutOutput } from '../../src/endpoints/store.js';
import { silentLogger } from '../../src/logger.js';
import { FakeStore, netError, s3Error, type Call } from '../support/fake-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

interface Setup {
  stores?: FakeStore[];
  weights?: number[];
  strategy?: Strategy;
  retry?: Partial<RetryConfig>;
  estimator?: Partial<EstimatorConfig>;
}

/** One endpoint per fake store (no server behind any), in one pool, under one engine. */
function setup(opts: Setup = {}) {
  const stores = opts.stores ?? [new FakeStore('ep1')];
  const endpoints = stores.map((store, i) => new Endpoint({
    name: store.name, url: `http://127.0.0.1:${i + 1}`, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: opts.weights?.[i] ?? 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: { ...DEFAULT_ESTIMATOR, ...opts.estimator } }, silentLogger, store));
  const pool = new EndpointPool(endpoints, { mode: 'pool', strategy: opts.strategy ?? 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const reports: RequestReport[] = [];
  const run = new AbortController();
  const retry: RetryConfig = { retries: 3, backoffBaseMs: 1, backoffCapMs: 5, ...opts.retry };
  const engine = new RequestEngine(pool, retry, run.signal, silentLogger, (r) => reports.push(r));
  return { engine, endpoints, stores, reports, run };
}

/** A PutObject of `bytes` through whichever endpoint the engine picks. */
function put(key = 'k', bytes = 3, extra: Partial<RequestSpec<PutOutput>> = {}): RequestSpec<PutOutput> {
  return {
    op: 'PutObject', key, bytes, bucket: 'b', ...extra,
    send: (ep, signal) => ep.store.putObject({ bucket: 'b', key, body: Buffer.alloc(bytes), contentLength: bytes }, signal),
  };
}

/** The deadline (ms) a cut call was given, from its DeadlineExceeded reason. */
function deadlineOf(c: Call): number {
  const reason = c.abortReason as Error;
  expect(reason.name).toBe('DeadlineExceeded');
  return Number(/within the (\d+) ms deadline/.exec(reason.message)![1]);
}

describe('RequestEngine: deadlines', () => {
  it('a request-level deadline grows by backoff^attempt on every retry', async () => {
    const store = new FakeStore('ep1').script({ hang: 'reason' }, { hang: 'reason' }, { hang: 'reason' });
    const { engine } = setup({ stores: [store], estimator: { backoff: 2 } });
    const out = await engine.run(put('k', 3, { deadlineMs: 30 }));
    expect(out.etag).toBeDefined();
    expect(store.calls.map((c) => c.op)).toEqual(['putObject', 'putObject', 'putObject', 'putObject']);
    const cut = store.calls.slice(0, 3);
    expect(cut.map(deadlineOf)).toEqual([30, 60, 120]);
    // each cut came no sooner than its deadline
    for (const c of cut) expect(c.endedMs! - c.startedMs).toBeGreaterThanOrEqual(deadlineOf(c) - 2);
    expect(store.calls[3]!.outcome).toBe('ok');
  });

  it("the estimator's deadline grows by backoff^attempt too (minMs = maxMs pins the first one)", async () => {
    const store = new FakeStore('ep1').script({ hang: 'reason' }, { hang: 'reason' });
    const { engine } = setup({ stores: [store], estimator: { minMs: 25, maxMs: 25, backoff: 3 } });
    await engine.run(put());
    expect(store.calls.slice(0, 2).map(deadlineOf)).toEqual([25, 75]);
    expect(store.calls).toHaveLength(3);
  });

  it('a call cut by its deadline fails as DeadlineExceeded, whatever the client threw: a retry and a health failure', async () => {
    // the SDK rejects an aborted call with its own AbortError; the engine reads the signal's reason
    const store = new FakeStore('ep1').script({ hang: 'sdk' });
    const { engine, endpoints, reports } = setup({ stores: [store] });
    await engine.run(put('k', 3, { deadlineMs: 20 }));
    expect(store.calls).toHaveLength(2);
    expect(deadlineOf(store.calls[0]!)).toBe(20);
    expect(endpoints[0]!.lastError).toBe('DeadlineExceeded'); // only health failures reach the breaker
    expect(endpoints[0]!.stats.retries).toBe(1);
    expect(reports).toMatchObject([{ op: 'PutObject', ok: true, attempts: 2 }]);
  });

  it('with no retries left, the request fails with DeadlineExceeded and the decision retry', async () => {
    const store = new FakeStore('ep1').script({ hang: 'sdk' });
    const { engine } = setup({ stores: [store], retry: { retries: 0 } });
    const err = await engine.run(put('k', 3, { deadlineMs: 20 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestFailed);
    expect((err as RequestFailed).facts.code).toBe('DeadlineExceeded');
    expect((err as RequestFailed).decision).toBe('retry');
    expect(store.calls).toHaveLength(1);
  });
});

describe('RequestEngine: decisions', () => {
  it('a retryable error is retried, and the success after it is the answer', async () => {
    const store = new FakeStore('ep1').script({ error: s3Error('InternalError', 500) }, { afterMs: 5, result: { etag: '"second"' } });
    const { engine, endpoints, reports } = setup({ stores: [store] });
    const out = await engine.run(put());
    expect(out.etag).toBe('"second"');
    expect(store.calls.map((c) => c.outcome)).toEqual(['error', 'ok']);
    expect(endpoints[0]!.stats).toMatchObject({ requests: 2, errors: 1, retries: 1, inFlight: 0 });
    expect(reports).toMatchObject([{ ok: true, attempts: 2, endpoint: 'ep1' }]);
  });

  it("'fail' (AccessDenied on one key) is not retried", async () => {
    const store = new FakeStore('ep1').script({ error: s3Error('AccessDenied', 403) });
    const { engine, endpoints, reports } = setup({ stores: [store] });
    const err = await engine.run(put()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestFailed);
    expect(err).toMatchObject({ decision: 'fail', facts: { code: 'AccessDenied', status: 403 } });
    expect(store.calls).toHaveLength(1);
    expect(endpoints[0]!.stats.retries).toBe(0);
    expect(endpoints[0]!.breaker.state).toBe('closed');
    expect(reports).toMatchObject([{ ok: false, attempts: 1, error: 'AccessDenied' }]);
  });

  it.each([
    ['NoSuchBucket', 404],
    ['InvalidAccessKeyId', 403],
    ['SignatureDoesNotMatch', 403],
  ])("'fatal' (%s) is not retried and says so", async (code, status) => {
    const store = new FakeStore('ep1').script({ error: s3Error(code, status) });
    const { engine } = setup({ stores: [store] });
    const err = await engine.run(put()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestFailed);
    expect(err).toMatchObject({ decision: 'fatal', facts: { code, status } });
    expect(store.calls).toHaveLength(1);
  });
});

describe('RequestEngine: failover', () => {
  it('the retry goes to another endpoint than the one the attempt failed on', async () => {
    // round-robin with weights 100:1 sends nearly everything to a; only `avoid` sends the retry to b
    const a = new FakeStore('a').script({ error: netError('ECONNRESET') });
    const b = new FakeStore('b');
    const { engine, reports } = setup({ stores: [a, b], weights: [100, 1] });
    await engine.run(put('k1'));
    expect(a.calls).toHaveLength(1);
    expect(b.calls).toHaveLength(1);
    expect(reports).toMatchObject([{ key: 'k1', ok: true, attempts: 2, endpoint: 'b' }]);
    // without a failure, the weights keep the next requests on a
    await engine.run(put('k2'));
    await engine.run(put('k3'));
    expect(a.calls).toHaveLength(3);
    expect(b.calls).toHaveLength(1);
  });

  it('a pinned request retries on its endpoint only', async () => {
    const a = new FakeStore('a').script({ error: netError('ECONNRESET') });
    const b = new FakeStore('b');
    const { engine, endpoints } = setup({ stores: [a, b], weights: [1, 100] });
    await engine.run(put('k', 3, { endpoint: endpoints[0]! }));
    expect(a.calls).toHaveLength(2);
    expect(b.calls).toHaveLength(0);
  });
});

describe("RequestEngine: the run's abort", () => {
  it('ends the call in flight as Interrupted, and no attempt follows', async () => {
    const store = new FakeStore('ep1').script({ hang: 'reason' });
    const { engine, endpoints, run } = setup({ stores: [store] });
    const pending = engine.run(put('k', 3, { deadlineMs: 60_000 }));
    setTimeout(() => run.abort(), 20);
    await expect(pending).rejects.toBeInstanceOf(Interrupted);
    expect(store.calls).toHaveLength(1);
    expect(store.calls[0]!.abortReason).toBeInstanceOf(Interrupted);
    expect(endpoints[0]!.stats).toMatchObject({ inFlight: 0, errors: 0, retries: 0 });
  });

  it('ends every call in flight at once (one listener for all attempts), after earlier requests finished', async () => {
    const store = new FakeStore('ep1').script({ afterMs: 1 }, { afterMs: 1 }, { hang: 'reason' }, { hang: 'reason' }, { hang: 'reason' });
    const { engine, endpoints, run } = setup({ stores: [store] });
    await engine.run(put('done1'));
    await engine.run(put('done2'));
    const pending = ['a', 'b', 'c'].map((k) => engine.run(put(k, 3, { deadlineMs: 60_000 })));
    setTimeout(() => run.abort(), 20);
    for (const p of pending) await expect(p).rejects.toBeInstanceOf(Interrupted);
    expect(store.calls.slice(2).map((c) => c.abortReason)).toEqual([expect.any(Interrupted), expect.any(Interrupted), expect.any(Interrupted)]);
    expect(endpoints[0]!.stats).toMatchObject({ inFlight: 0, errors: 0, retries: 0 });
    // a request started after the abort is not sent
    await expect(engine.run(put('late'))).rejects.toBeInstanceOf(Interrupted);
    expect(store.calls).toHaveLength(5);
  });
});
