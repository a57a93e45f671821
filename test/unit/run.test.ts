/**
 * The Run every op builds on (src/run/run.ts) against scripted fake stores
 * (test/support/fake-store.ts): the first fatal error stops the run once and aborts its signal,
 * the counters add up over the reported requests, and an interrupt leaves the items not yet
 * started counted as not attempted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import type { PutOutput } from '../../src/endpoints/store.js';
import { Interrupted, RequestFailed, type RequestReport, type RequestSpec } from '../../src/engine/request.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import { Run } from '../../src/run/run.js';
import { FakeStore, s3Error } from '../support/fake-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

/** A Run over one endpoint per fake store (no server behind any), in pool mode. */
function setup(opts: { stores?: FakeStore[]; retries?: number; signal?: AbortSignal; logger?: Logger; listen?: boolean } = {}) {
  const stores = opts.stores ?? [new FakeStore('ep1')];
  const estimator = { ...DEFAULT_ESTIMATOR };
  const specs = stores.map((store, i) => ({
    name: store.name, url: `http://127.0.0.1:${i + 1}`, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }));
  const endpoints = specs.map((spec, i) => new Endpoint(spec, { maxConcurrent: 8, estimator }, silentLogger, stores[i]));
  const poolSpec = { mode: 'pool' as const, strategy: 'round-robin' as const, bucketMap: [], sharedStorage: true };
  const pool = new EndpointPool(endpoints, poolSpec);
  const retry: RetryConfig = { retries: opts.retries ?? 3, backoffBaseMs: 1, backoffCapMs: 5 };
  const reports: RequestReport[] = [];
  const run = new Run({ pool: { ...poolSpec, endpoints: specs, source: 'test' }, concurrency: 4, retry, estimator }, pool, 'b', {
    onReport: opts.listen === false ? undefined : (r) => reports.push(r), logger: opts.logger ?? silentLogger, signal: opts.signal,
  });
  cleanups.push(() => run.close());
  return { run, stores, reports };
}

function put(key: string): RequestSpec<PutOutput> {
  return {
    op: 'PutObject', key, bytes: 3, bucket: 'b',
    send: (ep, signal) => ep.store.putObject({ bucket: 'b', key, body: Buffer.alloc(3), contentLength: 3 }, signal),
  };
}

describe('Run: the fatal stop', () => {
  it('records the first fatal error once, names it as the preflight would, and aborts the run signal', async () => {
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (o: object) => { errors.push((o as { error: string }).error); } };
    const store = new FakeStore('ep1').script({ error: s3Error('NoSuchBucket', 404) }, { error: s3Error('InvalidAccessKeyId', 403) });
    const { run } = setup({ stores: [store], logger });
    const first = await run.engine.run(put('a')).catch((e: unknown) => e);
    const second = await run.engine.run(put('b')).catch((e: unknown) => e);
    expect(first).toMatchObject({ decision: 'fatal' });
    expect(run.signal.aborted).toBe(false);
    expect(run.stopIfFatal(first)).toBe(true);
    expect(run.signal.aborted).toBe(true);
    expect(run.stopIfFatal(second)).toBe(true);
    expect(run.fatal).toMatch(/^bucket 'b' does not exist at /);
    expect(errors).toEqual([run.fatal]);
    expect(run.interrupted).toBe(false);
    expect(run.totals(0)).toMatchObject({ fatal: run.fatal, interrupted: false });
  });

  it("is not taken for a request that merely failed, and the run's requests stop after it", async () => {
    const store = new FakeStore('ep1').script({ error: s3Error('AccessDenied', 403) });
    const { run } = setup({ stores: [store] });
    const denied = await run.engine.run(put('a')).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(RequestFailed);
    expect(run.stopIfFatal(denied)).toBe(false);
    expect(run.stopIfFatal(new Error('local'))).toBe(false);
    run.stop('stopped here');
    await expect(run.engine.run(put('b'))).rejects.toBeInstanceOf(Interrupted);
    // multipart aborts still go out through the cleanup engine
    await run.cleanup.run(put('c'));
    expect(store.calls.map((c) => c.outcome)).toEqual(['error', 'ok']);
    expect(run.fatal).toBe('stopped here');
  });
});

describe('Run: the counters', () => {
  it('requests and retries add up over the reported requests, and the endpoint summaries agree', async () => {
    const stores = [
      new FakeStore('ep1').script({ error: s3Error('InternalError', 500) }, { error: s3Error('SlowDown', 503) }),
      new FakeStore('ep2').script({ error: s3Error('AccessDenied', 403) }),
    ];
    const { run, reports } = setup({ stores });
    const outcomes = await Promise.allSettled(['a', 'b', 'c', 'd', 'e'].map((k) => run.engine.run(put(k))));
    // preflight-style requests are counted by their endpoint, not by the run
    await run.engine.run({ ...put('x'), unreported: true });
    expect(reports).toHaveLength(5);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(reports.filter((r) => !r.ok).length);
    const totals = run.totals(4);
    expect(totals.requests).toBe(5);
    expect(totals.retries).toBe(reports.reduce((n, r) => n + r.attempts - 1, 0));
    expect(totals.retries).toBeGreaterThanOrEqual(2);
    const attempts = stores.reduce((n, s) => n + s.calls.length, 0);
    expect(totals.endpoints.reduce((n, e) => n + e.requests, 0)).toBe(attempts);
    expect(totals.endpoints.reduce((n, e) => n + e.retries, 0)).toBe(totals.retries);
    expect(totals.endpoints.map((e) => e.name)).toEqual(['ep1', 'ep2']);
    expect(totals.objectsPerSec).toBeCloseTo(4 / (totals.wallMs / 1000), 0);
    expect(totals).toMatchObject({ notAttempted: 0, interrupted: false });
    expect(totals.fatal).toBeUndefined();
  });

  it('counts the same with no report listener (the engine then builds no report), cleanup requests included', async () => {
    const stores = [new FakeStore('ep1').script({ error: s3Error('InternalError', 500) }, { error: s3Error('SlowDown', 503) })];
    const { run, reports } = setup({ stores, listen: false });
    await Promise.allSettled(['a', 'b', 'c'].map((k) => run.engine.run(put(k))));
    await run.cleanup.run(put('z'));
    await run.engine.run({ ...put('x'), unreported: true });
    expect(reports).toHaveLength(0);
    const totals = run.totals(4);
    expect(totals.requests).toBe(4);
    expect(totals.retries).toBe(2);
    expect(totals.endpoints.reduce((n, e) => n + e.retries, 0)).toBe(2);
  });

  it('a retries override applies to every request of the run', async () => {
    const store = new FakeStore('ep1').script({ error: s3Error('InternalError', 500) });
    const { run, reports } = setup({ stores: [store], retries: 0 });
    const r2 = new Run(run.conn, run.pool, 'b', { retries: 0 });
    await expect(r2.engine.run(put('a'))).rejects.toMatchObject({ decision: 'retry' });
    expect(store.calls).toHaveLength(1);
    expect(reports).toHaveLength(0); // r2 reports to no one
    expect(r2.requests).toBe(1);
  });
});

describe('Run: an interrupt', () => {
  it('ends the requests in flight, starts nothing more, and counts what was not attempted', async () => {
    const caller = new AbortController();
    const store = new FakeStore('ep1').script({ hang: 'reason' }, { hang: 'sdk' });
    const { run } = setup({ stores: [store], signal: caller.signal });
    const dispatch = run.dispatch(2);
    const failures: unknown[] = [];
    const work = (k: string) => () => run.engine.run(put(k)).then(() => {}, (err: unknown) => {
      if (err instanceof Interrupted) run.notAttempted++;
      else failures.push(err);
    });
    expect(await dispatch.take(work('a'))).toBe(true);
    expect(await dispatch.take(work('b'))).toBe(true);
    // no place left: the third waits until the interrupt frees one, then is not started
    const third = dispatch.take(work('c'), 3);
    setTimeout(() => caller.abort(), 20);
    expect(await third).toBe(false);
    expect(await dispatch.take(work('d'))).toBe(false);
    await dispatch.drain();
    expect(failures).toEqual([]);
    expect(store.calls.map((c) => (c.input as { key: string }).key)).toEqual(['a', 'b']);
    expect(run.interrupted).toBe(true);
    expect(run.fatal).toBeUndefined();
    expect(run.totals(0)).toMatchObject({ interrupted: true, notAttempted: 2 + 3 + 1, requests: 0 });
  });
});
