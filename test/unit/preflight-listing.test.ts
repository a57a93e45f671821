/**
 * listAfterPreflight (src/ops/preflight-listing.ts) over a scripted fake store: the first listing
 * page is asked for while the preflight runs, but handed out only after it passed; a failed
 * preflight cuts the listing and is thrown as PreflightFailed, nothing handed out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import type { ListObjectsPage } from '../../src/endpoints/store.js';
import { Interrupted } from '../../src/engine/request.js';
import { FatalRunError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { listAfterPreflight, PreflightFailed } from '../../src/ops/preflight-listing.js';
import { Run } from '../../src/run/run.js';
import { FakeStore, s3Error } from '../support/fake-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

/** The preflight's ListObjectsV2 (MaxKeys 1) goes to `pre`'s script, the listing's to this store's. */
class TwoLists extends FakeStore {
  readonly pre = new FakeStore('pre');
  override listObjectsV2(p: unknown, signal: AbortSignal): Promise<ListObjectsPage> {
    return (p as { maxKeys?: number }).maxKeys === 1 ? this.pre.listObjectsV2(p, signal) : super.listObjectsV2(p, signal);
  }
}

function setup(store: TwoLists): Run {
  const estimator = { ...DEFAULT_ESTIMATOR };
  const spec = { name: 'ep1', url: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true, weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 } };
  const poolSpec = { mode: 'pool' as const, strategy: 'round-robin' as const, bucketMap: [], sharedStorage: true };
  const pool = new EndpointPool([new Endpoint(spec, { maxConcurrent: 8, estimator }, silentLogger, store)], poolSpec);
  const retry: RetryConfig = { retries: 3, backoffBaseMs: 1, backoffCapMs: 5 };
  const run = new Run({ pool: { ...poolSpec, endpoints: [spec], source: 'test' }, concurrency: 4, retry, estimator }, pool, 'b', { logger: silentLogger });
  cleanups.push(() => run.close());
  return run;
}

const page = (keys: string[]): ListObjectsPage => ({ Contents: keys.map((Key) => ({ Key, Size: 1 })), IsTruncated: false });

describe('listAfterPreflight', () => {
  it('asks for the first page during the preflight, hands it out only after the preflight answered', async () => {
    const store = new TwoLists().script({ op: 'listObjectsV2', result: page(['p/a', 'p/b']) });
    store.pre.script({ op: 'listObjectsV2', afterMs: 60, result: page([]) });
    const run = setup(store);
    const got: Array<{ keys: string[]; atMs: number }> = [];
    for await (const pg of listAfterPreflight(run, 'b', 'p/')) got.push({ keys: pg.objects.map((o) => o.key), atMs: performance.now() });
    const [pre] = store.pre.calls;
    const [listing] = store.calls;
    expect(got.map((g) => g.keys)).toEqual([['p/a', 'p/b']]);
    // the listing was sent before the preflight answered, and answered first…
    expect(listing!.startedMs).toBeLessThan(pre!.endedMs!);
    expect(listing!.endedMs!).toBeLessThan(pre!.endedMs!);
    // …but its page came out only after the preflight passed
    expect(got[0]!.atMs).toBeGreaterThanOrEqual(pre!.endedMs!);
  });

  it('a failed preflight cuts the listing in flight and is thrown as PreflightFailed; no page is handed out', async () => {
    const store = new TwoLists().script({ op: 'listObjectsV2', hang: 'reason' });
    store.pre.script({ op: 'listObjectsV2', afterMs: 20, error: s3Error('NoSuchBucket', 404) });
    const run = setup(store);
    const pages: unknown[] = [];
    const err = await (async () => { for await (const pg of listAfterPreflight(run, 'b', 'p/')) pages.push(pg); })().catch((e: unknown) => e);
    expect(pages).toEqual([]);
    expect(err).toBeInstanceOf(PreflightFailed);
    expect((err as PreflightFailed).error).toBeInstanceOf(FatalRunError);
    expect(((err as PreflightFailed).error as Error).message).toMatch(/^bucket 'b' does not exist at /);
    expect(store.calls).toHaveLength(1);
    expect(store.calls[0]!.abortReason).toBeInstanceOf(Interrupted);
    expect(run.fatal).toBeUndefined(); // no message of the run's own: the caller throws the preflight's
  });
});
