/**
 * `s3x delete-prefix` end to end against real Ceph RGW gateways: 2,500 objects (paging past
 * 1,000, batches of 1,000 over three gateways), siblings that must survive, --dry-run, the empty
 * prefix guard, and a real per-key failure (a bucket policy denying DeleteObject on two keys).
 * Results are checked by listing with the SDK, never by trusting the CLI's output.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateTree } from '../../src/fs/generate.js';
import { putObjects } from '../support/seed.js';
import { client, listAll, makeBucket, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const endpointFlags = env.endpoints.flatMap((e) => ['--endpoint-url', e]);
const N = 2500;

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
/** keys that must survive every delete of "target" */
const SIBLINGS = ['target', 'target.txt', 'target-other/a.txt', 'target-other/b/c.txt', 'other/target/x.txt', 'TARGET/x.txt'];
/** a key XML 1.0 cannot carry: DeleteObjects would fail the whole batch, so it goes alone */
const CONTROL_KEY = 'target/ctl\u0001char.txt';

type Rec = Record<string, unknown> & { type: string };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'delete'));
  tree = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-del-'));
  await generateTree(tree, { files: N, sizeBytes: 16, dirs: 10 });
  const up = await runCli(env, ['upload', tree, bucket, 'target', ...endpointFlags, '-c', '24']);
  expect(up.code, up.stderr).toBe(0);
  await putObjects(env, bucket, [...SIBLINGS, CONTROL_KEY].map((k) => [k, `content of ${k}`] as const));
  expect(await listAll(env, bucket, 'target/')).toHaveLength(N + 1);
});

afterAll(async () => {
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

describe('s3x delete-prefix', () => {
  it('refuses an empty prefix without --all, and --all with a prefix (exit 2, one line, nothing deleted)', async () => {
    for (const args of [[bucket], [bucket, ''], [bucket, '/'], [bucket, 'target', '--all']]) {
      const r = await runCli(env, ['delete-prefix', ...args, ...endpointFlags]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^s3x: error: (an empty prefix selects every object in bucket '.*': pass --all|--all deletes every object in the bucket: give it no prefix)/);
    }
    expect(await listAll(env, bucket)).toHaveLength(N + 1 + SIBLINGS.length);
  });

  it('--dry-run shows exactly what would go and deletes nothing', async () => {
    const r = await runCli(env, ['delete-prefix', bucket, 'target', ...endpointFlags, '--dry-run']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const would = lines.filter((l) => l.startsWith('would delete '));
    const want = (await listAll(env, bucket, 'target/')).map((o) => `would delete s3://${bucket}/${o.Key!.replace('\x01', '\\x01')}`); // plan lines escape control characters
    expect(would.map((l) => l.replace(/ \([^)]*\)$/, '')).sort()).toEqual(want.sort());
    expect(lines.at(-1)).toMatch(new RegExp(`^Dry run: would delete ${N + 1} objects, .* under s3://${bucket}/target/ \\(nothing deleted\\)$`));
    expect(await listAll(env, bucket)).toHaveLength(N + 1 + SIBLINGS.length);
  });

  it(`deletes the ${N} objects under the prefix (paging past 1,000, batches over every gateway) and nothing beside it`, async () => {
    const r = await runCli(env, ['delete-prefix', bucket, 'target', ...endpointFlags, '--json', '-c', '8']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await listAll(env, bucket, 'target/')).toEqual([]);
    expect((await listAll(env, bucket)).map((o) => o.Key).sort()).toEqual([...SIBLINGS].sort());

    const recs = records(r.stdout);
    const summary = recs.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', prefix: 'target/', listed: N + 1, deleted: N + 1, failedCount: 0, failed: [], notAttempted: 0 });
    const requests = recs.filter((x) => x.type === 'request');
    const lists = requests.filter((x) => x.op === 'ListObjectsV2');
    const batches = requests.filter((x) => x.op === 'DeleteObjects');
    expect(lists.length).toBeGreaterThanOrEqual(3); // 2,501 keys: at least 3 pages
    // 1,000 + 1,000 + 500, each split over the 8 slots in requests of at least 100 keys: 8 × 125, 8 × 125, 5 × 100
    expect(batches).toHaveLength(21);
    expect(batches.map((b) => Number(/\((\d+) keys\)$/.exec(b.key as string)![1])).sort((a, b) => a - b)).toEqual([...Array(5).fill(100), ...Array(16).fill(125)]);
    expect(requests.filter((x) => x.op === 'DeleteObject').map((x) => x.key)).toEqual([CONTROL_KEY]);
    expect(new Set(requests.map((x) => x.endpoint)).size).toBeGreaterThan(1);
    expect(summary.objectsPerSec as number).toBeGreaterThan(0);
  });

  it('names keys the server refuses to delete (real per-key AccessDenied), deletes the rest, exits 1', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `denied/k${String(i).padStart(2, '0')}`);
    await putObjects(env, bucket, keys.map((k) => [k, 'x'] as const));
    const protectedKeys = ['denied/k07', 'denied/k13'];
    const s3 = client(env);
    try {
      // RGW evaluates an explicit Deny even for the bucket owner, per key inside DeleteObjects
      await s3.send(new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: protectedKeys.map((k) => `arn:aws:s3:::${bucket}/${k}`) }],
        }),
      }));
      const r = await runCli(env, ['delete-prefix', bucket, 'denied', ...endpointFlags, '--batch-size', '10']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^Deleted 28 objects, /m);
      // batches run in parallel: the failures come in any order
      expect(r.stdout).toMatch(/^Failed: 2 objects$/m);
      expect(r.stdout).toMatch(/^ {2}denied\/k07: AccessDenied$/m);
      expect(r.stdout).toMatch(/^ {2}denied\/k13: AccessDenied$/m);
      expect((await listAll(env, bucket, 'denied/')).map((o) => o.Key)).toEqual(protectedKeys);
    } finally {
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
      s3.destroy();
    }
  });

  it('a missing bucket is one clear line, exit 2', async () => {
    const r = await runCli(env, ['delete-prefix', 'no-such-bucket-s3x', 'x', ...endpointFlags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^s3x: error: bucket 'no-such-bucket-s3x' does not exist at http:\/\/127\.0\.0\.1:\d+\n$/);
  });
});
