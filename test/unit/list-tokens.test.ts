/**
 * listThrough never sends a continuation token to a store that did not issue it: stores here are
 * fakes whose tokens name them and that refuse any other store's token (as a real store would
 * misread it). Round-robin routing would otherwise send page 2 elsewhere.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ListObjectsInput } from '../../src/endpoints/store.js';
import type { Mode } from '../../src/config/pool-config.js';
import { DEFAULT_ESTIMATOR } from '../../src/config/defaults.js';
import { listThrough } from '../../src/ops/list.js';
import { RequestEngine } from '../../src/engine/request.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import { silentLogger } from '../../src/logger.js';

const pools: EndpointPool[] = [];
afterEach(() => { for (const p of pools.splice(0)) p.destroy(); });

/** A store holding `keys`, one key a page; its tokens are "<name>:<index>". */
function fakeStore(ep: Endpoint, keys: string[], calls: string[]): void {
  const listObjectsV2 = async (input: ListObjectsInput): Promise<unknown> => {
    const token = input.continuationToken;
    calls.push(`${ep.name}<-${token ?? 'start'}`);
    if (token !== undefined && !token.startsWith(`${ep.name}:`)) {
      throw Object.assign(new Error('foreign token'), { name: 'InvalidArgument', $metadata: { httpStatusCode: 400 } });
    }
    const i = token ? Number(token.split(':')[1]) : 0;
    const more = i + 1 < keys.length;
    return { Contents: keys.length ? [{ Key: keys[i], Size: 1 }] : [], IsTruncated: more, ...(more && { NextContinuationToken: `${ep.name}:${i + 1}` }) };
  };
  Object.defineProperty(ep, 'store', { value: { listObjectsV2 } });
}

function engineFor(mode: Mode, sharedStorage: boolean, stores: string[][], calls: string[]): RequestEngine {
  const endpoints = stores.map((_, i) => new Endpoint({
    name: `ep${i + 1}`, url: `http://127.0.0.1:${i + 1}`, region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 1000 },
  }, { maxConcurrent: 4, estimator: DEFAULT_ESTIMATOR }, silentLogger));
  endpoints.forEach((ep, i) => fakeStore(ep, stores[i]!, calls));
  const pool = new EndpointPool(endpoints, { mode, strategy: 'round-robin', bucketMap: [], sharedStorage });
  pools.push(pool);
  return new RequestEngine(pool, { retries: 0, backoffBaseMs: 1, backoffCapMs: 1 }, new AbortController().signal, silentLogger);
}

async function keys(engine: RequestEngine): Promise<string[]> {
  const out: string[] = [];
  for await (const page of listThrough(engine, 'b', '')) out.push(...page.objects.map((o) => o.key));
  return out;
}

describe('listThrough: tokens stay with the store that issued them', () => {
  it('replicate: the union of the stores, each listed on its own', async () => {
    const calls: string[] = [];
    expect(await keys(engineFor('replicate', false, [['a1', 'a2', 'x'], ['b1', 'b2', 'x']], calls))).toEqual(['a1', 'a2', 'x', 'b1', 'b2']);
    expect(calls).toEqual(['ep1<-start', 'ep1<-ep1:1', 'ep1<-ep1:2', 'ep2<-start', 'ep2<-ep2:1', 'ep2<-ep2:2']);
  });

  it('replicate: a store whose listing fails fails the listing (a delete must see every store)', async () => {
    const calls: string[] = [];
    const engine = engineFor('replicate', false, [['a1'], ['b1']], calls);
    Object.defineProperty(engine.pool.endpoints[1]!, 'store', { value: { listObjectsV2: async () => { throw Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }); } } });
    await expect(keys(engine)).rejects.toThrow(/AccessDenied/);
  });

  it('fallback: the union; a failing store is skipped', async () => {
    const calls: string[] = [];
    const engine = engineFor('fallback', false, [['a1', 'a2'], ['b1', 'b2']], calls);
    expect(await keys(engine)).toEqual(['a1', 'a2', 'b1', 'b2']);
  });

  it('pool mode without shared storage: every page on the endpoint that answered the first', async () => {
    const calls: string[] = [];
    expect(await keys(engineFor('pool', false, [['k1', 'k2', 'k3'], ['k1', 'k2', 'k3']], calls))).toEqual(['k1', 'k2', 'k3']);
    const first = calls[0]!.split('<-')[0]!;
    expect(calls.every((c) => c.startsWith(`${first}<-`)), calls.join(' ')).toBe(true);
  });
});
