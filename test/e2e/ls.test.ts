/**
 * `s3x ls` end to end against real Ceph RGW gateways: 2,500 keys uploaded by `s3x upload`, listed
 * back recursively and in the delimiter view, with paging past 1,000 and with short pages; checked
 * against the SDK's own listing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateTree } from '../../src/fs/generate.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { putObjects } from '../support/seed.js';
import { listAll, makeBucket, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const endpointFlags = env.endpoints.flatMap((e) => ['--endpoint-url', e]);
const N = 2500;
const AWKWARD = ['tree/a b.txt', 'tree/ünï cødé 文件.txt', 'tree/plus+per%cent.txt', 'tree-sibling/x.txt', 'tree.txt'];

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
/** key → size, as uploaded */
const uploaded = new Map<string, number>();

type Rec = Record<string, unknown> & { type: string };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'ls'));
  tree = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-ls-'));
  // d0…d9/e0…e3/f000000.bin: 250 files per top directory
  await generateTree(tree, { files: N, sizeBytes: 7, dirs: 10 });
  const up = await runCli(env, ['upload', tree, bucket, 'tree', ...endpointFlags, '-c', '24']);
  expect(up.code, up.stderr).toBe(0);
  await putObjects(env, bucket, AWKWARD.map((k) => [k, `body of ${k}`] as const));
  for (const o of await listAll(env, bucket)) uploaded.set(o.Key!, o.Size!);
  expect(uploaded.size).toBe(N + AWKWARD.length);
});

afterAll(async () => {
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

describe('s3x ls', () => {
  it(`--recursive lists exactly the ${N} keys under the prefix with their sizes, in key order, paging past 1,000`, async () => {
    const r = await runCli(env, ['ls', bucket, 'tree', '-r', ...endpointFlags, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const recs = records(r.stdout);
    const objects = recs.filter((x) => x.type === 'object');
    const want = [...uploaded].filter(([k]) => k.startsWith('tree/'));
    expect(objects.map((o) => [o.key, o.bytes])).toEqual(want.sort(([a], [b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
    expect(recs.filter((x) => x.type === 'prefix')).toEqual([]);
    const summary = recs.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', prefix: 'tree/', recursive: true, objects: N + 3, prefixes: 0 });
    expect(summary.bytes).toBe(want.reduce((s, [, n]) => s + n, 0));
    expect(summary.pages as number).toBeGreaterThanOrEqual(3);
    expect(recs.filter((x) => x.type === 'request' && x.op === 'ListObjectsV2')).toHaveLength(summary.pages as number);
  });

  it('the delimiter view shows one level: folders as prefixes, files as objects, totals', async () => {
    const top = records((await runCli(env, ['ls', bucket, 'tree', ...endpointFlags, '--json'])).stdout);
    expect(top.filter((x) => x.type === 'prefix').map((x) => x.prefix)).toEqual(Array.from({ length: 10 }, (_, i) => `tree/d${i}/`));
    expect(top.filter((x) => x.type === 'object').map((x) => x.key).sort()).toEqual(AWKWARD.filter((k) => k.startsWith('tree/')).sort());

    const sub = await runCli(env, ['ls', bucket, 'tree/d3/', ...endpointFlags]);
    expect(sub.code).toBe(0);
    const lines = sub.stdout.trim().split('\n');
    expect(lines.slice(0, -1).map((l) => l.trim())).toEqual(['PRE tree/d3/e0/', 'PRE tree/d3/e1/', 'PRE tree/d3/e2/', 'PRE tree/d3/e3/']);
    expect(lines.at(-1)).toBe('Total: 0 objects, 0 bytes, 4 prefixes');

    const leaf = await runCli(env, ['ls', bucket, 'tree/d3/e1', ...endpointFlags]);
    const leafLines = leaf.stdout.trim().split('\n');
    const leafKeys = [...uploaded.keys()].filter((k) => k.startsWith('tree/d3/e1/'));
    expect(leafLines).toHaveLength(leafKeys.length + 1);
    expect(leafLines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +7 tree\/d3\/e1\/f\d{6}\.bin$/);
    expect(leafLines.at(-1)).toBe(`Total: ${leafKeys.length} objects, ${leafKeys.length * 7} bytes, 0 prefixes`);
  });

  it('the whole bucket, both views; the folder rule leaves siblings out, --raw-prefix takes them in', async () => {
    const root = records((await runCli(env, ['ls', bucket, ...endpointFlags, '--json'])).stdout);
    expect(root.filter((x) => x.type === 'prefix').map((x) => x.prefix)).toEqual(['tree-sibling/', 'tree/']);
    expect(root.filter((x) => x.type === 'object').map((x) => x.key)).toEqual(['tree.txt']);
    const all = records((await runCli(env, ['ls', bucket, '-r', ...endpointFlags, '--json'])).stdout);
    expect(all.filter((x) => x.type === 'object').map((x) => x.key).sort()).toEqual([...uploaded.keys()].sort());

    const raw = records((await runCli(env, ['ls', bucket, 'tree', '--raw-prefix', ...endpointFlags, '--json'])).stdout);
    expect(raw.filter((x) => x.type === 'prefix').map((x) => x.prefix)).toEqual(['tree-sibling/', 'tree/']);
    expect(raw.filter((x) => x.type === 'object').map((x) => x.key)).toEqual(['tree.txt']);
  });

  it('short pages (--page-size 100) give the same listing over 26 pages, and -H prints human sizes', async () => {
    const r = await runCli(env, ['ls', bucket, 'tree', '-r', '--page-size', '100', ...endpointFlags, '--json']);
    const recs = records(r.stdout);
    expect(recs.at(-1)).toMatchObject({ objects: N + 3, pages: Math.ceil((N + 3) / 100) });
    const h = await runCli(env, ['ls', bucket, 'tree/d0/e0', '-H', ...endpointFlags]);
    expect(h.stdout).toMatch(/ +7 B tree\/d0\/e0\/f000000\.bin\n/);
    expect(h.stdout.trim().split('\n').at(-1)).toMatch(/^Total: \d+ objects, \d+ B, 0 prefixes$/);
  });

  it('a missing bucket is one clear line, exit 2', async () => {
    const r = await runCli(env, ['ls', 'no-such-bucket-s3x', ...endpointFlags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^s3x: error: bucket 'no-such-bucket-s3x' does not exist at http:\/\/127\.0\.0\.1:\d+\n$/);
  });

  it('sends one request for one page (no preflight before it); a first page out of reach is the preflight\'s line', async () => {
    const proxy = await startFaultProxy({ target: env.endpoints[0]! });
    try {
      const r = await runCli(env, ['ls', bucket, 'tree/d0/e0/', '--endpoint-url', proxy.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/tree\/d0\/e0\/f000000\.bin\n/);
      expect(proxy.requestLog()).toEqual([expect.stringMatching(/^GET \/[^?]+\?(?=.*list-type=2)(?=.*prefix=tree%2Fd0%2Fe0%2F)/)]);
      proxy.setFaults({ resetEvery: 1 });
      const down = await runCli(env, ['ls', bucket, 'tree/d0/e0/', '--endpoint-url', proxy.url, '--retries', '1']);
      expect(down.code).toBe(2);
      expect(down.stderr).toMatch(/^s3x: error: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNRESET[^\n]*\n$/);
      // rejected credentials read as the preflight's line; AccessDenied (which the preflight let
      // pass) as the listing's own failure
      proxy.setFaults({ failAfter: 0, failStatus: 403, failCode: 'InvalidAccessKeyId' });
      const badKey = await runCli(env, ['ls', bucket, 'tree/d0/e0/', '--endpoint-url', proxy.url]);
      expect(badKey.code).toBe(2);
      expect(badKey.stderr).toMatch(/^s3x: error: credentials rejected by http:\/\/127\.0\.0\.1:\d+: the access key id is unknown \(InvalidAccessKeyId\)\n$/);
      proxy.setFaults({ failAfter: 0, failStatus: 403, failCode: 'AccessDenied' });
      const denied = await runCli(env, ['ls', bucket, 'tree/d0/e0/', '--endpoint-url', proxy.url]);
      expect(denied.code).toBe(2);
      expect(denied.stderr).toMatch(/^s3x: error: listing s3:\/\/[^/]+\/tree\/d0\/e0\/ failed: http:\/\/127\.0\.0\.1:\d+ refused the request: AccessDenied \(HTTP 403\)\n$/);
    } finally {
      await proxy.close();
    }
  });
});
