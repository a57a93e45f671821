import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConnection } from '../../src/config/options.js';
import { resolvePoolSpec } from '../../src/config/pool-config.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { openPool } from '../../src/run/context.js';
import { silentLogger } from '../../src/logger.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-limits-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function config(o: unknown): string {
  const file = path.join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(o));
  return file;
}

describe('per-endpoint bwlimit and tpslimit in the config file', () => {
  it('parses "bwlimit" with the flag\'s syntax and "tpslimit" as a number', () => {
    const file = config({ endpoints: [
      { name: 'a', url: 'http://127.0.0.1:1', region: 'us-east-1', bwlimit: '20MiB/s', tpslimit: 100 },
      { name: 'b', url: 'http://127.0.0.1:2', region: 'us-east-1', bwlimit: '1M:off' },
      { name: 'c', url: 'http://127.0.0.1:3', region: 'us-east-1', bwlimit: 'off', tpslimit: 0 },
    ] });
    const spec = resolvePoolSpec({ configFile: file }, {});
    expect(spec.endpoints[0]).toMatchObject({ bwlimit: { bytesPerSecond: 20 * 1024 * 1024 }, tpslimit: 100 });
    expect(spec.endpoints[1]!.bwlimit).toEqual({ upBytesPerSecond: 1024 * 1024 });
    expect(spec.endpoints[2]!.bwlimit).toBeUndefined();
    expect(spec.endpoints[2]!.tpslimit).toBeUndefined();
  });

  it('also from S3X_ENDPOINT_<i>_BWLIMIT / _TPSLIMIT', () => {
    const file = config({ endpoints: [{ url: 'http://127.0.0.1:1' }] });
    const spec = resolvePoolSpec({ configFile: file }, { S3X_ENDPOINT_1_BWLIMIT: '512k', S3X_ENDPOINT_1_TPSLIMIT: '7.5' });
    expect(spec.endpoints[0]).toMatchObject({ bwlimit: { bytesPerSecond: 512 * 1024 }, tpslimit: 7.5 });
  });

  it.each([
    [{ bwlimit: 'fast' }, /endpoints\[0\]\.bwlimit: 'fast' is not a bandwidth/],
    [{ bwlimit: 20 }, /endpoints\[0\]\.bwlimit: must be a non-empty string/],
    [{ tpslimit: -1 }, /endpoints\[0\]\.tpslimit: must be a number from 0/],
    [{ tpslimit: '5' }, /endpoints\[0\]\.tpslimit: must be a number from 0/],
  ])('refuses %j naming the field', (extra, message) => {
    const file = config({ endpoints: [{ url: 'http://127.0.0.1:1', ...extra }] });
    expect(() => resolvePoolSpec({ configFile: file }, {})).toThrow(message);
  });

  it('gives each endpoint the run\'s buckets (shared, the same objects) and then its own', () => {
    const file = config({ endpoints: [
      { name: 'a', url: 'http://127.0.0.1:1', region: 'us-east-1', bwlimit: '20MiB/s', tpslimit: 100 },
      { name: 'b', url: 'http://127.0.0.1:2', region: 'us-east-1' },
    ] });
    const conn = resolveConnection({ configFile: file, bwlimit: { bytesPerSecond: 50e6 }, tpsLimit: 50, concurrency: 8 }, {});
    const pool = openPool(conn, silentLogger);
    try {
      const [a, b] = pool.endpoints as [Endpoint, Endpoint];
      expect(a.limits.up.map((l) => l.bucket.ratePerSecond)).toEqual([50e6, 20 * 1024 * 1024]);
      expect(a.limits.down.map((l) => l.bucket.ratePerSecond)).toEqual([50e6, 20 * 1024 * 1024]);
      expect(a.limits.requests.map((t) => t.ratePerSecond)).toEqual([50, 100]);
      expect(b.limits.up.map((l) => l.bucket.ratePerSecond)).toEqual([50e6]);
      expect(b.limits.up[0]!.bucket).toBe(a.limits.up[0]!.bucket); // one run-wide bucket
      expect(b.limits.requests[0]).toBe(a.limits.requests[0]);
      expect(a.limits.up[0]!.bucket).toBe(a.limits.down[0]!.bucket); // one value: sent and received together
      expect(a.limits.up[0]!.sharers).toBe(8);
    } finally {
      pool.destroy();
    }
  });

  it('refuses bad run-wide limits from library callers', () => {
    expect(() => resolveConnection({ endpointUrls: ['http://127.0.0.1:1'], tpsLimit: -1 }, {})).toThrow(/--tpslimit/);
    expect(() => resolveConnection({ endpointUrls: ['http://127.0.0.1:1'], tpsBurst: 0 }, {})).toThrow(/--tpslimit-burst/);
    expect(() => resolveConnection({ endpointUrls: ['http://127.0.0.1:1'], bwlimit: { bytesPerSecond: 10 } }, {})).toThrow(/--bwlimit/);
  });
});
