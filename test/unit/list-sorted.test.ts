/**
 * list.ts listSorted, the listing sync merges with the sorted walk, against scripted fake stores
 * (test/support/fake-store.ts): pages in key order, keys out of order refused, and in replicate
 * and fallback modes the stores merged by key as listReplicas and listThrough did.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import { silentLogger } from '../../src/logger.js';
import { listSorted, ListingError, type ListedObject } from '../../src/ops/list.js';
import { Run } from '../../src/run/run.js';
import { FakeStore, s3Error } from '../support/fake-store.js';

const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function runOver(stores: FakeStore[], mode: 'pool' | 'replicate' | 'fallback'): Run {
  const estimator = { ...DEFAULT_ESTIMATOR };
  const specs = stores.map((store, i) => ({
    name: store.name, url: `http://127.0.0.1:${i + 1}`, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }));
  const endpoints = specs.map((spec, i) => new Endpoint(spec, { maxConcurrent: 8, estimator }, silentLogger, stores[i]));
  const poolSpec = { mode, strategy: 'round-robin' as const, bucketMap: [], sharedStorage: mode === 'pool' };
  const retry: RetryConfig = { retries: 0, backoffBaseMs: 1, backoffCapMs: 5 };
  const run = new Run({ pool: { ...poolSpec, endpoints: specs, source: 'test' }, concurrency: 4, retry, estimator }, new EndpointPool(endpoints, poolSpec), 'b');
  cleanups.push(() => run.close());
  return run;
}

/** A store answering these pages, in order (each but the last truncated). */
function storeWith(name: string, ...pages: Array<Array<[string, number]>>): FakeStore {
  return new FakeStore(name).script(...pages.map((objects, i) => ({
    op: 'listObjectsV2' as const,
    result: {
      Contents: objects.map(([Key, Size]) => ({ Key, Size })),
      IsTruncated: i < pages.length - 1, ...(i < pages.length - 1 && { NextContinuationToken: `${name}-${i + 1}` }),
    },
  })));
}

async function listed(run: Run, prefix = 'p/'): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const page of listSorted(run.engine, 'b', prefix)) out.push(...page);
  return out;
}

const brief = (objects: ListedObject[]): string[] => objects.map((o) => `${o.key}:${o.bytes}${o.replicasDiffer ? '!' : ''}`);

describe('listSorted', () => {
  it('one store: every page under the prefix, in order, nothing outside the prefix', async () => {
    const run = runOver([storeWith('a', [['p/a', 1], ['p/b', 2]], [], [['p/c', 3], ['q/x', 4]])], 'pool');
    expect(brief(await listed(run))).toEqual(['p/a:1', 'p/b:2', 'p/c:3']);
  });

  it('a key listed out of UTF-8 order, or twice, is a ListingError', async () => {
    await expect(listed(runOver([storeWith('a', [['p/b', 1]], [['p/a', 1]])], 'pool'))).rejects.toThrow(ListingError);
    await expect(listed(runOver([storeWith('a', [['p/a', 1], ['p/a', 1]])], 'pool'))).rejects.toThrow(/not in key order/);
    // U+FFFF sorts before an astral character in UTF-8 bytes, after it in JS string order
    expect(brief(await listed(runOver([storeWith('a', [['p/\uffff', 1], ['p/😀', 2]])], 'pool')))).toEqual(['p/\uffff:1', 'p/😀:2']);
  });

  it('replicate: the union in key order, the first store\'s copy, marked when a store lacks it or holds another size', async () => {
    const a = storeWith('a', [['p/a', 1], ['p/c', 3]], [['p/d', 4]]);
    const b = storeWith('b', [['p/a', 1], ['p/b', 2]], [['p/c', 5]]);
    expect(brief(await listed(runOver([a, b], 'replicate')))).toEqual(['p/a:1', 'p/b:2!', 'p/c:3!', 'p/d:4!']);
  });

  it('replicate: a store that fails fails the listing', async () => {
    const a = storeWith('a', [['p/a', 1]]);
    const b = new FakeStore('b').script({ op: 'listObjectsV2', error: s3Error('NoSuchBucket', 404) });
    await expect(listed(runOver([a, b], 'replicate'))).rejects.toThrow(/NoSuchBucket/);
  });

  it('fallback: the first store that lists a key wins; a store without the bucket is skipped while another answers', async () => {
    expect(brief(await listed(runOver([storeWith('a', [['p/a', 1]]), storeWith('b', [['p/a', 9], ['p/b', 2]])], 'fallback')))).toEqual(['p/a:1', 'p/b:2']);
    const missing = new FakeStore('a').script({ op: 'listObjectsV2', error: s3Error('NoSuchBucket', 404) });
    expect(brief(await listed(runOver([missing, storeWith('b', [['p/b', 2]])], 'fallback')))).toEqual(['p/b:2']);
    const gone = (): FakeStore => new FakeStore('x').script({ op: 'listObjectsV2', error: s3Error('NoSuchBucket', 404) });
    await expect(listed(runOver([gone(), gone()], 'fallback'))).rejects.toThrow(/NoSuchBucket/);
  });
});
