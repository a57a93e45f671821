/**
 * `sync` and `upload --skip-existing` list the prefix before sending anything. When that listing
 * fails for good (a SlowDown that persists, connections reset every time), the run stops with one
 * clear line and exit 2 (like the preflight: the run could not start), no stack, and nothing sent.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
let bucket: string;
let drop: () => Promise<void>;
let tree: string;
let proxy: FaultProxy;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'listfail'));
  tree = makeTree({ 'a.txt': 'a', 'd/b.txt': 'b' });
  proxy = await startFaultProxy({ target: env.endpoints[0]! });
});

afterAll(async () => {
  await proxy?.close();
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

// the preflight lists with max-keys=1 and no prefix; the comparison lists the prefix
const prefixListing = /^GET \/[^/?]+\/?\?(?=.*list-type=2)(?=.*prefix=run%2F)/;

describe('a listing that fails under sync / upload --skip-existing', () => {
  it.each([
    // not SlowDown: throttling is retried for minutes before --retries applies (retry-policy.ts)
    ['sync, InternalError on every listing', ['sync', '{tree}', '{bucket}', 'run'], { match: prefixListing, failAfter: 0 }],
    ['upload --skip-existing, every listing reset', ['upload', '{tree}', '{bucket}', 'run', '--skip-existing'], { match: prefixListing, resetEvery: 1 }],
  ])('%s: one line, exit 2, nothing sent', async (_name, args, faults) => {
    proxy.setFaults(faults);
    const argv = args.map((a) => (a === '{tree}' ? tree : a === '{bucket}' ? bucket : a));
    const r = await runCli(env, [...argv, '--endpoint-url', proxy.url, '--retries', '1']);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.stderr).toMatch(/^s3x: error: cannot list s3:\/\/[^/]+\/run\/ .*\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.code).toBe(2);
    expect(await listAll(env, bucket)).toEqual([]);
  });
});
