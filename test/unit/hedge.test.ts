/**
 * Hedged requests in the RequestEngine (src/engine/request.ts, src/engine/hedge-policy.ts) against
 * scripted fake stores: a slow copy loses to its hedge and is aborted; control calls and writes to
 * a versioned bucket are never hedged; the budget bounds hedges when every request is slow.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ESTIMATOR, DEFAULT_HEDGE, type EstimatorConfig, type HedgeConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { DeadlineEstimator } from '../../src/endpoints/estimator.js';
import { makeLimits, type Limits } from '../../src/endpoints/limits.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import { HedgeBudget, hedgeKind, overtaken } from '../../src/engine/hedge-policy.js';
import { RequestEngine, type RequestReport, type RequestSpec } from '../../src/engine/request.js';
import type { PutOutput } from '../../src/endpoints/store.js';
import { silentLogger } from '../../src/logger.js';
import { FakeStore, s3Error, type Step } from '../support/fake-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function setup(stores: FakeStore[], hedge: Partial<HedgeConfig> = {}, limits?: Limits, estimator: Partial<EstimatorConfig> = {}) {
  const endpoints = stores.map((store, i) => new Endpoint({
    name: store.name, url: `http://127.0.0.1:${i + 1}`, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: { ...DEFAULT_ESTIMATOR, tailMinSamples: 10, ...estimator }, ...(limits && { limits }) }, silentLogger, store));
  const pool = new EndpointPool(endpoints, { mode: 'pool', strategy: 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const reports: RequestReport[] = [];
  const engine = new RequestEngine(pool, { retries: 3, backoffBaseMs: 1, backoffCapMs: 5 }, new AbortController().signal, silentLogger,
    (r) => reports.push(r), { ...DEFAULT_HEDGE, ...hedge });
  return { engine, endpoints, reports };
}

function put(key: string, extra: Partial<RequestSpec<PutOutput>> = {}): RequestSpec<PutOutput> {
  return {
    op: 'PutObject', key, bytes: 3, bucket: 'b', hedge: true, ...extra,
    send: (ep, signal) => ep.store.putObject({ bucket: 'b', key, body: Buffer.alloc(3), contentLength: 3 }, signal),
  };
}

/** The request was cut by a hedge sent no sooner than `minMs` and before its first deadline, and that hedge won. */
function expectHedgedBetween(r: RequestReport, minMs: number): void {
  expect(r).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
  expect(r.cutMs!).toBeGreaterThanOrEqual(minMs);
  expect(r.cutMs!).toBeLessThan(r.deadlinesMs[0]!);
}

/** Enough quick requests that the endpoint's p95 is known and the budget holds two hedges. */
async function warm(engine: RequestEngine, n = 40): Promise<void> {
  for (let i = 0; i < n; i++) await engine.run(put(`warm${i}`));
}

describe('hedge policy', () => {
  it('hedges only idempotent operations', () => {
    expect(['PutObject', 'UploadPart', 'GetObject', 'HeadObject', 'ListObjectsV2'].map((op) => hedgeKind(op as never)))
      .toEqual(['write', 'write', 'read', 'read', 'read']);
    for (const op of ['CreateMultipartUpload', 'CompleteMultipartUpload', 'AbortMultipartUpload', 'DeleteObjects', 'DeleteObject']) {
      expect(hedgeKind(op as never)).toBe(false);
    }
  });

  it('the budget allows fraction × requests + burst hedges, never more', () => {
    const b = new HedgeBudget(0.05, 3);
    let taken = 0;
    for (let i = 0; i < 1000; i++) { b.deposit(); if (b.tryTake()) taken++; }
    expect(taken).toBe(50);
    const idle = new HedgeBudget(0.05, 3);
    for (let i = 0; i < 1000; i++) idle.deposit();
    let burst = 0;
    while (idle.tryTake()) burst++;
    expect(burst).toBe(3);
  });

  it('a request is a straggler of its own when a later one answered, or none started after it; not while every later one waits too', () => {
    const ep = (latestStartMs: number, latestAnsweredStartMs: number) => ({ latestStartMs, latestAnsweredStartMs });
    expect(overtaken(100, ep(100, 50))).toBe(true); // nothing started after it: nothing to compare
    expect(overtaken(100, ep(180, 150))).toBe(true); // one that started at 150 answered
    expect(overtaken(100, ep(180, 100))).toBe(false); // only it and earlier ones answered; 180 still waits
    expect(overtaken(100, ep(180, -Infinity))).toBe(false);
  });

  it('an initial reserve (at most the burst) may be spent before any request earned it', () => {
    const b = new HedgeBudget(0.05, 3, 2);
    expect([b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, false]);
    const capped = new HedgeBudget(0.05, 3, 10);
    let taken = 0;
    while (capped.tryTake()) taken++;
    expect(taken).toBe(3);
  });
});

describe('RequestEngine: hedged requests', () => {
  it('a PUT past the p95 is sent again; the first answer wins and the slow copy is aborted', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    await warm(engine);
    store.script({ op: 'putObject', hang: 'reason' });
    const out = await engine.run(put('slow'));
    expect(out.etag).toBeDefined();
    const slow = store.calls.filter((c) => c.op === 'putObject' && (c.input as { key: string }).key === 'slow');
    expect(slow).toHaveLength(2);
    expect((slow[0]!.abortReason as Error).name).toBe('HedgeLost');
    expect(slow[1]!.outcome).toBe('ok');
    expect(reports.at(-1)).toMatchObject({ key: 'slow', ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    expect([engine.hedged, engine.hedgeWon, engine.hedgeBytes]).toEqual([1, 1, 3]);
    expect(store.calls.filter((c) => c.op === 'getBucketVersioning')).toHaveLength(1);
  });

  it('a small request that answers before its hedge time has no timer but its deadline: one watch looks at them all', async () => {
    const store = new FakeStore('ep1');
    const { engine } = setup([store]);
    await warm(engine);
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      await Promise.all(Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 25; i++) await engine.run(put(`quick${w}-${i}`));
      }));
      // each of the 200: its deadline and the fake store's answer (a race and its timer each made 3)
      expect(timers.mock.calls.length).toBeGreaterThanOrEqual(400);
      expect(timers.mock.calls.length).toBeLessThan(450);
    } finally {
      timers.mockRestore();
    }
  });

  it('a hedge as slow as its first copy gets one of its own; the third copy wins, both slow ones are aborted; never a fourth', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    await warm(engine);
    store.script({ op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' });
    await engine.run(put('slow'));
    const slow = store.calls.filter((c) => c.op === 'putObject' && (c.input as { key: string }).key === 'slow');
    expect(slow.map((c) => c.outcome)).toEqual(['error', 'error', 'ok']);
    expect(slow.slice(0, 2).map((c) => (c.abortReason as Error).name)).toEqual(['HedgeLost', 'HedgeLost']);
    expect(reports.at(-1)).toMatchObject({ key: 'slow', ok: true, attempts: 1, hedged: 2, hedgeWon: true });

    // every copy stalls: two hedges, then the attempt's deadline; the retry answers
    store.script({ op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' });
    await engine.run(put('stuck'));
    const stuck = store.calls.filter((c) => c.op === 'putObject' && (c.input as { key: string }).key === 'stuck');
    expect(stuck).toHaveLength(4);
    // calm: hedged 2, attempts 2. Under load the warm-ups are slower, the hedge time grows, and
    // the 100 ms deadline can come before a hedge (hedged 1 or 0, seen beside 3 busy loops). Either
    // way every call is an attempt or a hedge, and no attempt has a fourth copy (a fourth would answer).
    const last = reports.at(-1)!;
    expect(last).toMatchObject({ key: 'stuck', ok: true });
    expect(last.hedged).toBeLessThanOrEqual(2);
    expect(last.attempts + last.hedged).toBe(stuck.length);
  });

  it('a hedge refused for want of a place is asked again while its first copy runs, and goes once a place frees', async () => {
    const store = new FakeStore('ep1');
    const { engine, endpoints, reports } = setup([store]);
    await warm(engine);
    expect(endpoints[0]!.hedgeExtra).toBe(2);
    // a quarter of an endpoint's places, at least 2
    const wide = new Endpoint({ ...endpoints[0]!.config, maxConcurrent: 16 }, { maxConcurrent: 8, estimator: DEFAULT_ESTIMATOR }, silentLogger, store);
    expect(wide.hedgeExtra).toBe(4);
    wide.destroy();
    // three first copies hang, a later request answers at once (they are stragglers, not an
    // endpoint slow as a whole); the first two hedges take both hedge places for 50 ms and win
    store.script({ op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' },
      { op: 'putObject' }, { op: 'putObject', afterMs: 50 }, { op: 'putObject', afterMs: 50 });
    const runs = ['a', 'b', 'c', 'd'].map((k) => engine.run(put(k)));
    await Promise.all(runs);
    // c's hedge went when a place freed (~50 ms), not at its deadline (100 ms): one attempt, its hedge won
    expectHedgedBetween(reports.find((r) => r.key === 'c')!, 40);
  });

  it('a small request that no later one overtook is not hedged on its own endpoint (slow as a whole) until one answers', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    await warm(engine);
    // the first hangs; the second, started after it, answers after 60 ms, and so do its own two
    // hedges (nothing started after it: it may be hedged). Until then the endpoint is slow for
    // both, and a copy of the first would wait with them
    const slow: Step = { op: 'putObject', afterMs: 60 };
    store.script({ op: 'putObject', hang: 'reason' }, slow, slow, slow);
    await Promise.all([engine.run(put('stuck')), engine.run(put('later'))]);
    expectHedgedBetween(reports.find((r) => r.key === 'stuck')!, 50);
  });

  it('the hedge goes to another endpoint when the pool has one', async () => {
    const a = new FakeStore('a');
    const b = new FakeStore('b');
    const { engine, reports } = setup([a, b]);
    await warm(engine, 60);
    a.script({ op: 'putObject', hang: 'reason' });
    // the routing alternates: within two requests one lands on a and hangs; its hedge goes to b
    await engine.run(put('x0'));
    await engine.run(put('x1'));
    const hedged = reports.filter((r) => r.hedged > 0);
    expect(hedged).toHaveLength(1);
    expect(hedged[0]).toMatchObject({ endpoint: 'b', hedgeWon: true });
    const lost = a.calls.filter((c) => (c.abortReason as Error | undefined)?.name === 'HedgeLost');
    expect(lost.map((c) => (c.input as { key: string }).key)).toEqual([hedged[0]!.key]);
  });

  it('never hedges a control call, even when asked to', async () => {
    const store = new FakeStore('ep1');
    const { engine } = setup([store]);
    await warm(engine);
    for (const op of ['CompleteMultipartUpload', 'CreateMultipartUpload', 'AbortMultipartUpload', 'DeleteObjects', 'DeleteObject'] as const) {
      store.script({ op: 'completeMultipartUpload', hang: 'reason' });
      await engine.run({ op, key: op, bytes: 0, bucket: 'b', hedge: true, send: (ep, signal) => ep.store.completeMultipartUpload({ bucket: 'b', key: op, uploadId: 'u', parts: [] }, signal) });
      const calls = store.calls.filter((c) => (c.input as { key?: string })?.key === op);
      // cut by its deadline and retried, one copy at a time
      expect(calls).toHaveLength(2);
      expect((calls[0]!.abortReason as Error).name).toBe('DeadlineExceeded');
    }
    expect(engine.hedged).toBe(0);
  });

  it('no write hedges on a bucket with versioning enabled (asked once); reads still hedge', async () => {
    const store = new FakeStore('ep1').script({ op: 'getBucketVersioning', result: { status: 'Enabled' } });
    const { engine } = setup([store]);
    await warm(engine, 60);
    store.script({ op: 'putObject', hang: 'reason' });
    await engine.run(put('v1'));
    expect(engine.hedged).toBe(0);
    expect(store.calls.filter((c) => (c.input as { key?: string })?.key === 'v1').map((c) => (c.abortReason as Error | undefined)?.name))
      .toEqual(['DeadlineExceeded', undefined]);
    store.script({ op: 'headObject', hang: 'reason' });
    await engine.run({ op: 'HeadObject', key: 'h', bytes: 0, bucket: 'b', kind: 'read', hedge: true, send: (ep, signal) => ep.store.headObject({ bucket: 'b', key: 'h' }, signal) });
    expect(engine.hedged).toBe(1);
    expect(store.calls.filter((c) => c.op === 'getBucketVersioning')).toHaveLength(1);
  });

  it('writes get the tail deadline only on a bucket whose versioning is known to be off; else the floor', async () => {
    const versioned = new FakeStore('ep1').script({ op: 'getBucketVersioning', result: { status: 'Enabled' } });
    const v = setup([versioned], { enabled: false });
    await warm(v.engine, 60);
    versioned.script({ op: 'putObject', hang: 'reason' });
    await v.engine.run(put('v2'));
    expect(v.reports.find((r) => r.key === 'v2')!.deadlinesMs[0]).toBe(DEFAULT_ESTIMATOR.minMs); // a second PUT would be a second version
    const plain = new FakeStore('ep1');
    const p = setup([plain], { enabled: false });
    await warm(p.engine, 60);
    await new Promise((r) => setTimeout(r, 20)); // the versioning answer
    plain.script({ op: 'putObject', hang: 'reason' });
    await p.engine.run(put('p2'));
    expect(p.reports.find((r) => r.key === 'p2')!.deadlinesMs[0]).toBeLessThan(DEFAULT_ESTIMATOR.minMs); // p99 × 3 of the warm-up
    expect(plain.calls.filter((c) => c.op === 'getBucketVersioning')).toHaveLength(1); // asked with --no-hedge too
  });

  it('versioning that cannot be read: no write hedges for the run', async () => {
    const store = new FakeStore('ep1').script({ op: 'getBucketVersioning', error: s3Error('AccessDenied', 403) });
    const { engine } = setup([store]);
    await warm(engine, 60);
    store.script({ op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' });
    await engine.run(put('n1'));
    await engine.run(put('n2'));
    expect(engine.hedged).toBe(0);
    expect(store.calls.filter((c) => c.op === 'getBucketVersioning')).toHaveLength(1);
  });

  it('a report\'s startMs is when its request started, after the engine was made (a --json timeline)', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    store.script({ op: 'putObject', afterMs: 120 });
    const slow = engine.run(put('first'));
    await new Promise((r) => setTimeout(r, 50));
    await Promise.all([slow, engine.run(put('second'))]);
    const [second, first] = reports; // the second finished first
    expect([first!.key, second!.key]).toEqual(['first', 'second']);
    expect(first!.startMs).toBeLessThan(second!.startMs);
    expect(second!.startMs - first!.startMs).toBeGreaterThanOrEqual(40);
  });

  it('a report\'s cutMs is when its first hedge went or its first deadline ran out; a request never cut has none', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    await warm(engine);
    // on a loaded machine a warm-up request may itself be hedged: then it has a cutMs too
    const neverCut = reports.filter((r) => r.hedged === 0 && r.attempts === 1);
    expect(neverCut.length).toBeGreaterThan(reports.length / 2);
    expect(neverCut.every((r) => r.cutMs === undefined)).toBe(true);
    expect(reports.filter((r) => r.hedged > 0 || r.attempts > 1).every((r) => r.cutMs !== undefined)).toBe(true);
    store.script({ op: 'putObject', hang: 'reason' });
    await engine.run(put('hedged'));
    const hedged = reports.at(-1)!;
    expect(hedged).toMatchObject({ key: 'hedged', hedged: 1, hedgeWon: true });
    // the hedge answered at once: the request ended when it was cut
    expect(hedged.cutMs).toBeGreaterThanOrEqual(0);
    expect(hedged.totalMs - hedged.cutMs!).toBeLessThanOrEqual(20);

    const off = setup([new FakeStore('ep2')], { enabled: false });
    await warm(off.engine);
    const offStore = off.endpoints[0]!.store as FakeStore;
    offStore.script({ op: 'putObject', hang: 'reason' });
    await off.engine.run(put('cut'));
    const cut = off.reports.at(-1)!;
    expect(cut).toMatchObject({ key: 'cut', attempts: 2, hedged: 0 });
    // cut at its first deadline (the retry's start), not at the end
    expect(Math.abs(cut.cutMs! - cut.deadlinesMs[0]!)).toBeLessThanOrEqual(30);
    expect(cut.totalMs).toBeGreaterThan(cut.cutMs!);
  });

  it('--no-hedge (enabled: false) sends none', async () => {
    const store = new FakeStore('ep1');
    const { engine } = setup([store], { enabled: false });
    await warm(engine);
    store.script({ op: 'putObject', hang: 'reason' });
    await engine.run(put('off'));
    expect(engine.hedged).toBe(0);
    // asked all the same, once: a write's tail deadline needs versioning off (next test but one)
    expect(store.calls.filter((c) => c.op === 'getBucketVersioning').length).toBeLessThanOrEqual(1);
    expect(store.calls.filter((c) => (c.input as { key?: string })?.key === 'off')).toHaveLength(2); // cut, resent: no copy
  });

  it('a hedge that loses (the first copy answers anyway) stretches the endpoint\'s hedge delay; one that wins resets it', async () => {
    const store = new FakeStore('ep1');
    const { engine, endpoints } = setup([store], { budgetBurst: 50 });
    await warm(engine, 60);
    const ep = endpoints[0]!;
    // the delay ÷ the unstretched one, min(p95, 2 × median): the slow answer below also enters the histogram
    const unstretched = (): number => Math.min(ep.estimator.smallQuantileMs(0.95)!, 2 * ep.estimator.smallQuantileMs(0.5)!);
    const stretch = (): number => ep.estimator.hedgeAfterMs(3, 0.95)! / unstretched();
    expect(stretch()).toBeCloseTo(1, 6);
    // the first copy answers well past its p95, both hedges (the second after twice the time) hang: they lose
    store.script({ op: 'putObject', afterMs: Math.max(30, Math.ceil(ep.estimator.hedgeAfterMs(3, 0.95)! * 3)) }, { op: 'putObject', hang: 'reason' }, { op: 'putObject', hang: 'reason' });
    await engine.run(put('slow-but-first'));
    expect(engine.hedged).toBe(2);
    expect(engine.hedgeWon).toBe(0);
    expect(stretch()).toBeCloseTo(1.1, 6);
    store.script({ op: 'putObject', hang: 'reason' });
    await engine.run(put('stalled'));
    expect(engine.hedgeWon).toBe(1);
    expect(stretch()).toBeCloseTo(1, 6);
  });

  it('no hedge under --tpslimit or --bwlimit: a copy would spend the tokens every request shares', async () => {
    for (const limits of [makeLimits({}, 100_000, 1_000, 1), makeLimits({ bytesPerSecond: 1e9 }, 0, 1, 1)]) {
      const store = new FakeStore('ep1');
      const { engine } = setup([store], {}, limits);
      await warm(engine);
      store.script({ op: 'putObject', hang: 'reason' });
      await engine.run(put('limited'));
      expect(engine.hedged).toBe(0);
      expect(store.calls.filter((c) => c.op === 'putObject' && (c.input as { key: string }).key === 'limited')).toHaveLength(2);
    }
  });

  it('a straggler whose hedge the budget refused is cut at its cut time once a later request answered, and sent again at once: no hedge, no retry spent', async () => {
    const store = new FakeStore('ep1');
    // a burst below one hedge: the budget refuses every hedge
    const { engine, endpoints, reports } = setup([store], { budgetBurst: 0.5 });
    await warm(engine);
    store.script({ op: 'putObject', hang: 'reason' });
    await Promise.all([engine.run(put('stuck')), engine.run(put('later'))]);
    const stuck = store.calls.filter((c) => (c.input as { key?: string })?.key === 'stuck');
    expect(stuck.map((c) => c.outcome)).toEqual(['error', 'ok']);
    expect((stuck[0]!.abortReason as Error).name).toBe('CutAndResent');
    const r = reports.find((x) => x.key === 'stuck')!;
    expect(r).toMatchObject({ ok: true, attempts: 2, hedged: 0 });
    // cut at its cut time (2 × the median, stretched), well before the first deadline; resent at once
    expect(r.cutMs!).toBeGreaterThanOrEqual(Math.floor(endpoints[0]!.estimator.cutAfterMs(3)!));
    expect(r.cutMs!).toBeLessThan(r.deadlinesMs[0]!);
    expect(r.totalMs - r.cutMs!).toBeLessThanOrEqual(20);
    expect(engine.hedged).toBe(0);

    // once per request, and under --retries 0 never: the deadline cuts it, as without hedging
    store.script({ op: 'putObject', hang: 'reason' }, { op: 'putObject' }, { op: 'putObject', hang: 'reason' });
    // --retries 1: the deadline's retry is its one (the cut spent none)
    await Promise.all([engine.run(put('twice', { retries: 1 })), engine.run(put('later2'))]);
    const twice = store.calls.filter((c) => (c.input as { key?: string })?.key === 'twice');
    expect(twice.map((c) => (c.abortReason as Error | undefined)?.name)).toEqual(['CutAndResent', 'DeadlineExceeded', undefined]);
    store.script({ op: 'putObject', hang: 'reason' });
    const noRetry = await Promise.allSettled([engine.run(put('none', { retries: 0 })), engine.run(put('later3'))]);
    expect(noRetry[0].status).toBe('rejected');
    const none = store.calls.filter((c) => (c.input as { key?: string })?.key === 'none');
    expect(none.map((c) => (c.abortReason as Error).name)).toEqual(['DeadlineExceeded']);
  });

  it('with the budget spent, requests slow all at once are not cut: only one with nothing started after it, and its copy finds the endpoint slow too', async () => {
    const store = new FakeStore('ep1');
    const { engine } = setup([store], { budgetBurst: 0.5 });
    await warm(engine);
    // 4 first copies and the one copy sent again all hang: nothing answers, so nothing is overtaken
    store.script(...Array.from({ length: 5 }, (): Step => ({ op: 'putObject', hang: 'reason' })));
    await Promise.all(Array.from({ length: 4 }, (_, i) => engine.run(put(`s${i}`))));
    const cuts = store.calls.filter((c) => (c.input as { key?: string })?.key?.startsWith('s') && c.abortReason !== undefined)
      .map((c) => (c.abortReason as Error).name);
    expect(cuts.filter((n) => n === 'CutAndResent')).toHaveLength(1);
    expect(cuts.filter((n) => n === 'DeadlineExceeded')).toHaveLength(4);
    expect(engine.hedged).toBe(0);
  });

  it('when every request turns slow at once, hedges stay within the budget (fraction × requests + burst)', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store], { budgetFraction: 0.05, budgetBurst: 1 });
    await warm(engine);
    // the 4 first copies hang (the store's steps go to calls in order, and all 4 start before
    // any hedge); a hedge answers at once; fewer than 5 failures, so the breaker stays closed
    const hung: Step[] = Array.from({ length: 4 }, () => ({ op: 'putObject', hang: 'reason' }));
    store.script(...hung);
    await Promise.all(Array.from({ length: 4 }, (_, i) => engine.run(put(`s${i}`))));
    // 44 requests: 2.2 hedges earned, capped at the burst of 1 (hedges cannot be saved up)
    expect(engine.hedged).toBe(1);
    expect(engine.hedgeWon).toBe(1);
    // the rest were cut by their deadline and retried, as without hedging
    expect(reports.filter((r) => r.key.startsWith('s')).map((r) => r.attempts).sort()).toEqual([1, 2, 2, 2]);
  });
});

/** A 4 MiB UploadPart that passes the engine's `onBodySent` to the store, as ops/multipart-upload.ts does. */
function part(key: string, n: number): RequestSpec<PutOutput> {
  const bytes = 4 << 20;
  return {
    op: 'UploadPart', key, part: n, bytes, bucket: 'b', hedge: true,
    send: (ep, signal, progress) => ep.store.uploadPart({ bucket: 'b', key, uploadId: 'u', partNumber: n, body: Buffer.alloc(0), contentLength: bytes, onBodySent: progress.bodySent }, signal),
  };
}

/** Part 'first' starts alone; 20 ms later 7 more join it (8 share the endpoint); every one takes `afterMs`. */
async function firstThenSeven(engine: RequestEngine, store: FakeStore, afterMs: number): Promise<void> {
  store.script({ op: 'uploadPart', afterMs });
  const first = engine.run(part('first', 1));
  await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < 7; i++) store.script({ op: 'uploadPart', afterMs });
  await Promise.all([first, ...Array.from({ length: 7 }, (_, i) => engine.run(part('rest', i + 2)))]);
}

/**
 * A ranged GET of 4 MiB: its body arrives in pieces every 50 ms from `firstByteMs`, none in
 * [`silentFromMs`, `silentToMs`), and it answers at `answerMs` (never: it hangs until aborted).
 * A hedge (every copy after the first) answers in 100 ms, unless it is one of the first
 * `stalledHedges`: those hear pieces for 200 ms, then nothing, and hang (`hedgesHearNothing`: not
 * even a first piece). Each copy is noted in `copies`.
 */
interface RangedCopy { key: string; hedge: boolean; startedMs: number; endedMs?: number; how?: string }
function ranged(key: string, n: number, copies: RangedCopy[], t: { answerMs?: number; firstByteMs?: number; silentFromMs?: number; silentToMs?: number; stalledHedges?: number; hedgesHearNothing?: boolean }): RequestSpec<string> {
  let sent = 0;
  return {
    op: 'GetObject', key, part: n, bytes: 4 << 20, kind: 'read', bucket: 'b', hedge: true,
    send: (_ep, signal, progress) => new Promise<string>((resolve, reject) => {
      const copyNo = sent++;
      const stalledHedge = copyNo > 0 && copyNo <= (t.stalledHedges ?? 0);
      const stalled: typeof t = t.hedgesHearNothing ? { firstByteMs: Infinity } : { silentFromMs: 200 };
      const { answerMs, firstByteMs = 0, silentFromMs = Infinity, silentToMs = Infinity } = copyNo === 0 ? t : stalledHedge ? stalled : { answerMs: 100 };
      const copy: RangedCopy = { key, hedge: copyNo > 0, startedMs: performance.now() };
      copies.push(copy);
      const end = (how: string): void => { copy.endedMs = performance.now(); copy.how = how; clearInterval(pieces); clearTimeout(done); };
      const pieces = setInterval(() => {
        const ms = performance.now() - copy.startedMs;
        if (ms >= firstByteMs && (ms < silentFromMs || ms >= silentToMs)) progress.received?.();
      }, 50);
      const done = answerMs === undefined ? undefined : setTimeout(() => { end('answered'); resolve(key); }, answerMs);
      signal.addEventListener('abort', () => { end((signal.reason as Error).name); reject(signal.reason); }, { once: true });
    }),
  };
}

/** Part 'stalled' (timed by `t`, see ranged) among 7 others answering at `othersAnswerMs`: the reports, its own, and every copy. */
async function silentAmongSeven(t: Parameters<typeof ranged>[3], othersAnswerMs: number) {
  const { engine, reports } = setup([new FakeStore('ep1')]);
  const copies: RangedCopy[] = [];
  await Promise.all([
    engine.run(ranged('stalled', 1, copies, t)),
    ...Array.from({ length: 7 }, (_, i) => engine.run(ranged('others', i + 2, copies, { answerMs: othersAnswerMs }))),
  ]);
  return { reports, r: reports.find((x) => x.key === 'stalled')!, copies };
}

/** 24 parts, 8 at a time, each taking `afterMs` with its body all sent after `bodySentAfterMs`: the endpoint learns its usual wait after a body. */
async function warmParts(engine: RequestEngine, store: FakeStore, afterMs: number, bodySentAfterMs: number): Promise<void> {
  for (let i = 0; i < 24; i++) store.script({ op: 'uploadPart', afterMs, bodySentAfterMs });
  for (let batch = 0; batch < 3; batch++) await Promise.all(Array.from({ length: 8 }, (_, i) => engine.run(part('warm', batch * 8 + i + 1))));
}

/** Part 'stalled' (its body all sent after 20 ms, then no answer) among 7 others taking `afterMs`, their bodies sent after `bodySentAfterMs`: the stalled part's calls. */
async function stalledAmongSeven(engine: RequestEngine, store: FakeStore, afterMs: number, bodySentAfterMs: number) {
  store.script({ op: 'uploadPart', bodySentAfterMs: 20, hang: 'reason' });
  for (let i = 0; i < 7; i++) store.script({ op: 'uploadPart', afterMs, bodySentAfterMs });
  await Promise.all([engine.run(part('stalled', 1)), ...Array.from({ length: 7 }, (_, i) => engine.run(part('others', i + 1)))]);
  return store.calls.filter((c) => c.op === 'uploadPart' && (c.input as { key: string }).key === 'stalled');
}

describe('RequestEngine: large requests', () => {
  it('a part whose body is all sent and then gets no answer is hedged after the endpoint\'s usual wait after a body, not its whole time', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    // parts take 400 ms, 390 of them sending the body: the usual wait after it is ~10 ms
    await warmParts(engine, store, 400, 390);
    // among 7 others like them (a part's whole time is read per share of the endpoint)
    const calls = await stalledAmongSeven(engine, store, 400, 390);
    expect(calls).toHaveLength(2);
    expect((calls[0]!.abortReason as Error).name).toBe('HedgeLost');
    // body sent at 20 ms + max(100 ms floor, 1.5 × ~10 ms): well before the ~400 ms a part takes here
    expect(calls[1]!.startedMs - calls[0]!.startedMs).toBeLessThan(300);
    expect(reports.find((r) => r.key === 'stalled')).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
  });

  it('a part whose body is all sent waits after it as long as the parts in flight now need, not those in flight when its body went', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    // 8 at a time, parts take 400 ms, the last 300 of them after the body: ~37 ms a share, ~450 ms for 8
    await warmParts(engine, store, 400, 100);
    // its body goes in 20 ms among 7 others, which answer at 100 ms: then it is alone
    const calls = await stalledAmongSeven(engine, store, 100, 50);
    expect(calls).toHaveLength(2);
    // alone from 100 ms: hedged by the next look (every 100 ms) past the 100 ms floor, not at 20 + ~450 ms
    expect(calls[1]!.startedMs - calls[0]!.startedMs).toBeLessThan(350);
    expect(reports.find((r) => r.key === 'stalled')).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
  });

  it('a part whose body went slowly and whose wait after it is the endpoint\'s usual is not hedged at its time: a copy would send the body again for nothing', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    // parts take 400 ms: 100 ms to send the body, then a usual 300 ms wait for the answer
    await warmParts(engine, store, 400, 100);
    // these bodies take 700 ms (a part's time to be hedged is ~1.9 × 400 ms here), then the usual
    // 300 ms for 8 sharing the endpoint (the wait is sized for those in flight when it runs)
    store.script({ op: 'uploadPart', afterMs: 1000, bodySentAfterMs: 700 });
    for (let i = 0; i < 7; i++) store.script({ op: 'uploadPart', afterMs: 1000, bodySentAfterMs: 700 });
    await Promise.all([engine.run(part('slowbody', 1)), ...Array.from({ length: 7 }, (_, i) => engine.run(part('others', i + 1)))]);
    expect(store.calls.filter((c) => c.op === 'uploadPart' && (c.input as { key: string }).key === 'slowbody')).toHaveLength(1);
    expect(reports.find((r) => r.key === 'slowbody')).toMatchObject({ ok: true, attempts: 1, hedged: 0 });
    expect(engine.hedged).toBe(0);
  });

  it('a large request\'s deadline grows with the requests that came to share its endpoint after it started', async () => {
    const store = new FakeStore('ep1');
    // 4 MiB at 40 MB/s alone: ~100 ms expected, a 300 ms deadline for a request that starts alone
    const { engine, reports } = setup([store], { enabled: false }, undefined, { minMs: 50, expectedMBps: 40, expectedLatencyMs: 0 });
    // 7 more start at once: 8 share the endpoint, each gets 1/8 of it
    await firstThenSeven(engine, store, 700);
    const r = reports.find((x) => x.key === 'first')!;
    expect(r.attempts).toBe(1);
    expect(r.deadlinesMs[0]).toBeGreaterThan(700);
  });

  it('a part stalled before its endpoint had measured any part is hedged once it has: not left to the deadline the prior made', async () => {
    const store = new FakeStore('ep1');
    // the prior (10 MB/s) makes a 4 MiB part's deadline ~1.4 s; the endpoint does one in ~100 ms
    const { engine, reports } = setup([store]);
    store.script({ op: 'uploadPart', hang: 'reason' });
    for (let i = 0; i < 7; i++) store.script({ op: 'uploadPart', afterMs: 100 });
    await Promise.all([engine.run(part('stalled', 1)), ...Array.from({ length: 7 }, (_, i) => engine.run(part('others', i + 2)))]);
    const r = reports.find((x) => x.key === 'stalled')!;
    expect(r).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    // before its deadline, which is sized again once the endpoint has learnt (the report shows that
    // one, ~500 ms here), and well before the prior's (> 1.4 s)
    expect(r.cutMs!).toBeLessThan(r.deadlinesMs[0]!);
    expect(r.cutMs!).toBeLessThan(new DeadlineEstimator(DEFAULT_ESTIMATOR).deadlineMs(4 << 20, 0, 1) / 2);
  });

  it('with hedging off, a part stalled before its endpoint had measured any part is cut once it has: not left to the deadline the prior made', async () => {
    const store = new FakeStore('ep1');
    // the prior (10 MB/s, 50 ms) gives a 4 MiB part 3 × (50 + 419) ms at least; the endpoint does one in ~100 ms
    expect(new DeadlineEstimator(DEFAULT_ESTIMATOR).deadlineMs(4 << 20, 0, 1)).toBeGreaterThan(1400);
    const { engine, reports } = setup([store], { enabled: false });
    store.script({ op: 'uploadPart', hang: 'reason' });
    for (let i = 0; i < 7; i++) store.script({ op: 'uploadPart', afterMs: 100 });
    await Promise.all([engine.run(part('stalled', 1)), ...Array.from({ length: 7 }, (_, i) => engine.run(part('others', i + 2)))]);
    expect(reports.find((x) => x.key === 'stalled')).toMatchObject({ ok: true, attempts: 2, hedged: 0 });
    const cut = store.calls.find((c) => c.op === 'uploadPart' && (c.input as { key: string }).key === 'stalled')!;
    expect((cut.abortReason as Error).name).toBe('DeadlineExceeded');
    expect(cut.endedMs! - cut.startedMs).toBeLessThan(800);
  });

  it('a part whose body stops while its endpoint sends bytes to the others is hedged after a second of silence, before any hedge time is known', async () => {
    // 8 parts start at once (a download's first wave) and take 3 s; one hears nothing after 200 ms
    const { reports, r, copies } = await silentAmongSeven({ silentFromMs: 200 }, 3000);
    expect(r).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    // its last piece at ~150-200 ms: hedged 1 s later (asked every 100 ms), long before the others end
    expect(r.cutMs!).toBeGreaterThanOrEqual(1150);
    expect(r.cutMs!).toBeLessThan(1700);
    expect(copies.find((c) => c.key === 'stalled' && !c.hedge)!.how).toBe('HedgeLost');
    expect(reports.filter((x) => x.key === 'others').every((x) => x.hedged === 0)).toBe(true);
  });

  it('a part whose hedge stops too, while the part is still silent, gets one more hedge, and no third', async () => {
    for (const stalledHedges of [1, 2]) {
      const { reports, copies } = await silentAmongSeven({ silentFromMs: 200, stalledHedges }, 4000);
      const mine = copies.filter((c) => c.key === 'stalled');
      // the second hedge ~1 s after the first went silent
      expect(mine[2]!.startedMs - mine[1]!.startedMs).toBeGreaterThanOrEqual(1150);
      expect(mine[2]!.startedMs - mine[1]!.startedMs).toBeLessThan(1700);
      if (stalledHedges === 1) {
        // it answered: the first copy and the first hedge aborted
        expect(mine.map((c) => c.how)).toEqual(['HedgeLost', 'HedgeLost', 'answered']);
        expect(reports.find((x) => x.key === 'stalled')).toMatchObject({ ok: true, attempts: 1, hedged: 2, hedgeWon: true });
      } else {
        // both hedges stopped: no third; the first copy's deadline cut the attempt, sent again
        expect(mine.map((c) => c.how)).toEqual(['DeadlineExceeded', 'DeadlineExceeded', 'DeadlineExceeded', 'answered']);
        expect(reports.find((x) => x.key === 'stalled')).toMatchObject({ ok: true, attempts: 2, hedged: 2, hedgeWon: false });
      }
    }
  });

  it('two parts silent one after the other, the others then done, are each hedged about a second after they went silent', async () => {
    const { engine, reports } = setup([new FakeStore('ep1')]);
    const copies: RangedCopy[] = [];
    // 'a' hears nothing from 200 ms, 'b' from 800 ms; the others end at 1 s: then nothing on the endpoint receives
    await Promise.all([
      engine.run(ranged('a', 1, copies, { silentFromMs: 200 })),
      engine.run(ranged('b', 2, copies, { silentFromMs: 800 })),
      ...Array.from({ length: 6 }, (_, i) => engine.run(ranged('others', i + 3, copies, { answerMs: 1000 }))),
    ]);
    const a = reports.find((x) => x.key === 'a')!;
    const b = reports.find((x) => x.key === 'b')!;
    expect(a).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    expect(b).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    // 'a': ~0.8 s of silence while others received, then the quiet counts too; 'b': its last piece at ~750-800 ms
    expect(a.cutMs!).toBeLessThan(1500);
    expect(b.cutMs!).toBeLessThan(2100);
  });

  it('the last part in flight, silent mid-body, is hedged a second later', async () => {
    // it goes silent at 2.1 s, 100 ms after the others end: its silence against them stays ~0,
    // and its hedge time (its whole time at 2 s a part) is further off
    const { r } = await silentAmongSeven({ silentFromMs: 2100 }, 2000);
    expect(r).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    // its last piece at ~2.05-2.1 s: hedged ~1 s later (asked every 100 ms)
    expect(r.cutMs!).toBeGreaterThanOrEqual(3000);
    expect(r.cutMs!).toBeLessThan(3600);
  });

  // the others end at 1.5 s, ~0.1 s after the hedge (sent at ~1.2 s) went silent: nothing left to compare with;
  // or they stream on while the hedge hears nothing
  it.each([
    ['stops after the other parts have ended gets one more ~1 s after it went silent (at ~200 ms of its own), not at the deadline', { silentFromMs: 200, stalledHedges: 1 }, 1500, 1150, 1700],
    ['hears no first byte for 3 s while the others stream gets one more HEDGE_FIRST_BYTE_MS after it was sent', { silentFromMs: 200, stalledHedges: 1, hedgesHearNothing: true }, 5000, 2950, 3600],
  ] as const)('a silent part\'s hedge that %s', async (_, t, othersAnswerMs, minMs, maxMs) => {
    const { reports, copies } = await silentAmongSeven(t, othersAnswerMs);
    const mine = copies.filter((c) => c.key === 'stalled');
    // asked every 100 ms
    expect(mine[2]!.startedMs - mine[1]!.startedMs).toBeGreaterThanOrEqual(minMs);
    expect(mine[2]!.startedMs - mine[1]!.startedMs).toBeLessThan(maxMs);
    expect(mine.map((c) => c.how)).toEqual(['HedgeLost', 'HedgeLost', 'answered']);
    expect(reports.find((x) => x.key === 'stalled')).toMatchObject({ ok: true, attempts: 1, hedged: 2, hedgeWon: true });
  });

  it('a part still waiting for its first byte while the others stream (the gateway queues it) is not hedged for it; nor are parts silent all at once', async () => {
    for (const wave of ['queued', 'paused'] as const) {
      const { engine, reports } = setup([new FakeStore('ep1')]);
      const copies: RangedCopy[] = [];
      // queued: its body begins at 1.3 s, while 7 others stream from the start;
      // paused: all 8 hear nothing from 200 ms to 1.5 s
      const first = wave === 'queued' ? { firstByteMs: 1300 } : { silentFromMs: 200, silentToMs: 1500 };
      const rest = wave === 'queued' ? {} : first;
      await Promise.all([
        engine.run(ranged(wave, 1, copies, { ...first, answerMs: 1800 })),
        ...Array.from({ length: 7 }, (_, i) => engine.run(ranged('others', i + 2, copies, { ...rest, answerMs: 1800 }))),
      ]);
      expect(copies.filter((c) => c.how === 'answered' && c.endedMs! - c.startedMs >= 1790)).toHaveLength(8);
      expect(reports.map((x) => x.hedged)).toEqual(Array(8).fill(0));
    }
  });

  it('a write whose hedge is due while its bucket\'s versioning is still being asked is hedged once the answer comes', async () => {
    const store = new FakeStore('ep1');
    const { engine, reports } = setup([store]);
    // a far endpoint: the versioning answer takes longer than the parts' hedge time
    store.script({ op: 'getBucketVersioning', afterMs: 300 }, { op: 'uploadPart', hang: 'reason' });
    for (let i = 0; i < 7; i++) store.script({ op: 'uploadPart', afterMs: 100 });
    await Promise.all([engine.run(part('stalled', 1)), ...Array.from({ length: 7 }, (_, i) => engine.run(part('others', i + 2)))]);
    const r = reports.find((x) => x.key === 'stalled')!;
    expect(r).toMatchObject({ ok: true, attempts: 1, hedged: 1, hedgeWon: true });
    expect(r.cutMs!).toBeGreaterThanOrEqual(290);
  });

  it('a large request\'s hedge time grows with the requests that came to share its endpoint after it started: no hedge for a part on time', async () => {
    const store = new FakeStore('ep1');
    // 4 MiB at 40 MB/s alone: ~105 ms; hedged (before 20 parts are measured) at 1.5 × its expected time
    const { engine, reports } = setup([store], {}, undefined, { minMs: 50, expectedMBps: 40, expectedLatencyMs: 0 });
    for (let i = 0; i < 4; i++) {
      store.script({ op: 'uploadPart', afterMs: 105 });
      await engine.run(part('warm', i + 1));
    }
    // 7 more start at once: 8 share the endpoint, so ~840 ms each is on time
    await firstThenSeven(engine, store, 700);
    expect(store.calls.filter((c) => c.op === 'uploadPart' && (c.input as { key: string }).key === 'first')).toHaveLength(1);
    expect(reports.find((x) => x.key === 'first')).toMatchObject({ ok: true, attempts: 1, hedged: 0 });
  });
});

describe('--hedge-after and the table', () => {
  it('--hedge-after takes p50–p99.9 (with or without the p); anything else is a usage error', async () => {
    const { parseHedgeAfter, resolveConnection } = await import('../../src/config/options.js');
    expect(parseHedgeAfter('p95')).toBeCloseTo(0.95, 9);
    // the whole range passes the run's own check too (99.9 / 100 is 0.9990000000000001)
    for (const ok of ['p50', 'p99.9', '99.9', 'p97.5']) {
      expect(() => resolveConnection({ hedge: { afterQuantile: parseHedgeAfter(ok) } }, {}), ok).not.toThrow();
    }
    expect(parseHedgeAfter('P99.9')).toBeCloseTo(0.999, 9);
    expect(parseHedgeAfter('90')).toBeCloseTo(0.9, 9);
    for (const bad of ['p100', 'p5', 'x95', '', 'p95%', '0.95']) expect(() => parseHedgeAfter(bad), bad).toThrow(/--hedge-after: .* must be a percentile from p50 to p99\.9/);
  });

  it('--hedge-budget takes a percentage or a share above 0 and up to 50%; anything else is a usage error', async () => {
    const { parseHedgeBudget } = await import('../../src/config/options.js');
    expect(parseHedgeBudget('5%')).toBeCloseTo(0.05, 9);
    expect(parseHedgeBudget(' 12.5% ')).toBeCloseTo(0.125, 9);
    expect(parseHedgeBudget('0.1')).toBeCloseTo(0.1, 9);
    expect(parseHedgeBudget('50%')).toBeCloseTo(0.5, 9);
    for (const bad of ['5', '0%', '0', '51%', '-5%', 'p95', '', '5 %', '1e-2']) expect(() => parseHedgeBudget(bad), bad).toThrow(/^--hedge-budget: .* must be a share of requests above 0 and at most 50%/);
  });

  it('the budget follows --hedge-budget: with every first copy stalled, 20% sends about four times the hedges 5% does', async () => {
    const hedgesWith = async (budgetFraction: number): Promise<number> => {
      const store = new FakeStore('ep1');
      const { engine } = setup([store], { budgetFraction }, undefined, { tailFloorMs: 100 });
      await warm(engine, 20);
      for (let batch = 0; batch < 10; batch++) {
        // each batch's first copies take the stalls; hedges and retries answer at once
        for (let i = 0; i < 4; i++) store.script({ op: 'putObject', hang: 'reason' });
        await Promise.all(Array.from({ length: 4 }, (_, i) => engine.run(put(`stalled${batch}-${i}`))));
      }
      return engine.hedged;
    };
    const [low, high] = [await hedgesWith(0.05), await hedgesWith(0.2)];
    // 60 requests earn 3 (5%) or 12 (20%) hedges, + 2 in reserve
    expect(low).toBeLessThanOrEqual(0.05 * 60 + 2);
    expect(high).toBeGreaterThanOrEqual(0.2 * 60);
    expect(high).toBeLessThanOrEqual(0.2 * 60 + 2);
  });

  it('the request table shows each attempt\'s deadline and whether the request was hedged', async () => {
    const { renderRequestTable } = await import('../../src/cli/render.js');
    const row = { op: 'PutObject' as const, endpoint: 'ep1', bytes: 4096, successMs: 20, totalMs: 250, mbps: 0.2, mbpsEst: 0.16, ok: true, startMs: 0 };
    const text = await renderRequestTable([
      { ...row, key: 'a', attempts: 2, deadlinesMs: [210, 420], hedged: 0, hedgeWon: false },
      { ...row, key: 'b', attempts: 1, deadlinesMs: [210], hedged: 1, hedgeWon: true },
      { ...row, key: 'c', attempts: 1, deadlinesMs: [210], hedged: 1, hedgeWon: false },
    ]);
    expect(text).toMatch(/deadline_ms/);
    expect(text).toMatch(/hedged/);
    expect(text).toMatch(/│ a .*│ +210\/420 │ +│/);
    expect(text).toMatch(/│ b .*│ +210 │ won +│/);
    expect(text).toMatch(/│ c .*│ +210 │ sent +│/);
  });
});
