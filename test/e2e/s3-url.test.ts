/**
 * `s3://bucket/prefix` on every command that takes a bucket and prefix (src/cli/target.ts), beside
 * the `bucket [prefix]` form; bad targets refused with one line, exit 2, before anything is sent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const ep = ['--endpoint-url', env.endpoints[0]!];
/** nothing listens there: a command that sent a request would fail with a connection error, not exit 2 */
const deadEp = ['--endpoint-url', 'http://127.0.0.1:9'];

let bucket: string;
let drop: () => Promise<void>;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-url-'));
let tree: string;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'url'));
  tree = makeTree({ 'a.txt': 'alpha', 'sub/b.txt': 'bravo' });
});
afterAll(async () => {
  await drop?.();
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(tree, { recursive: true, force: true });
});

const keys = async (prefix: string): Promise<string[]> => (await listAll(env, bucket, prefix)).map((o) => o.Key!).sort();

describe('s3:// URLs on every command', () => {
  it('upload --dry-run names s3://bucket/key once (it printed s3://s3://… before)', async () => {
    const r = await runCli(env, ['upload', tree, `s3://${bucket}/dry/`, '--dry-run', ...ep]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`→ s3://${bucket}/dry/a.txt (5 B)`);
    expect(r.stdout).toContain(`→ s3://${bucket}/dry/sub/b.txt (5 B)`);
    expect(r.stdout).not.toContain('s3://s3://');
    expect(await keys('dry')).toEqual([]);
  });

  it('upload, ls, download, presign, delete-prefix with s3://bucket/prefix', async () => {
    const up = await runCli(env, ['upload', tree, `s3://${bucket}/up`, ...ep]);
    expect(up.code, up.stderr).toBe(0);
    expect(await keys('up/')).toEqual(['up/a.txt', 'up/sub/b.txt']);

    const root = await runCli(env, ['ls', `s3://${bucket}/`, ...ep]);
    expect(root.code, root.stderr).toBe(0);
    expect(root.stdout).toMatch(/PRE up\//);
    const rec = await runCli(env, ['ls', `s3://${bucket}/up`, '-r', ...ep]);
    expect(rec.stdout).toMatch(/ 5 up\/a\.txt\n/);
    expect(rec.stdout).toMatch(/ 5 up\/sub\/b\.txt\n/);

    const out = path.join(scratch, 'dl');
    const dl = await runCli(env, ['download', `s3://${bucket}/up/`, out, ...ep]);
    expect(dl.code, dl.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'sub/b.txt'), 'utf8')).toBe('bravo');

    const url = (await runCli(env, ['presign', `s3://${bucket}/up/a.txt`, ...ep])).stdout.trim();
    expect(await (await fetch(url)).text()).toBe('alpha');

    const del = await runCli(env, ['delete-prefix', `s3://${bucket}/up/`, ...ep]);
    expect(del.code, del.stderr).toBe(0);
    expect(await keys('up')).toEqual([]);
  });

  it('sync and perf-data take s3://bucket/prefix', async () => {
    const s = await runCli(env, ['sync', tree, `s3://${bucket}/synced`, ...ep]);
    expect(s.code, s.stderr).toBe(0);
    expect(await keys('synced/')).toEqual(['synced/a.txt', 'synced/sub/b.txt']);
    const p = await runCli(env, ['perf-data', path.join(scratch, 'gen'), `s3://${bucket}/pd`, '--generate', 'files=2,size=10', '-n', '1', '--no-requests', ...ep]);
    expect(p.code, p.stderr).toBe(0);
    expect((await keys('pd/')).length).toBe(2);
  });

  it('cleanup-multipart takes s3://bucket/prefix', async () => {
    const s3 = client(env);
    try {
      await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp/open.bin' }));
    } finally {
      s3.destroy();
    }
    const r = await runCli(env, ['cleanup-multipart', `s3://${bucket}/mp`, '--older-than', '0s', ...ep]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/aborted mp\/open\.bin/);
    expect(r.stdout).toMatch(new RegExp(`under s3://${bucket}/mp/: 1; aborted 1`));
  });
});

describe('endpoints check', () => {
  it('takes s3://bucket, and refuses a prefix', async () => {
    const ok = await runCli(env, ['endpoints', 'check', `s3://${bucket}`, '--json', ...ep]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/"bucketAccess":"ok"/);
    const bad = await runCli(env, ['endpoints', 'check', `s3://${bucket}/p`, ...deadEp]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^s3x: error: [^\n]*give only the bucket here[^\n]*\n$/);
  });
});

describe('bad targets: one line, exit 2, nothing sent (dry-run included)', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['upload dry-run, invalid bucket in the URL', ['upload', 'TREE', 's3://Bad_Bucket/p', '--dry-run'], /'Bad_Bucket' is not a valid bucket name: only lowercase/],
    ['upload, plain invalid bucket', ['upload', 'TREE', 'my..bucket'], /'my\.\.bucket' is not a valid bucket name: it must not contain "\.\."/],
    ['upload, URL and a prefix', ['upload', 'TREE', 's3://ok-bucket/p', 'q', '--dry-run'], /give the prefix either in s3:\/\/ok-bucket\/p or as a separate argument/],
    ['ls, empty bucket', ['ls', 's3://'], /'s3:\/\/' names no bucket/],
    ['ls, s3a://', ['ls', 's3a://ok-bucket/p'], /only s3:\/\/bucket\/prefix URLs are accepted \(not s3a:\/\/\)/],
    ['download, https://', ['download', 'https://host/b', 'p', 'OUT'], /only s3:\/\/bucket\/prefix URLs are accepted \(not https:\/\/\)/],
    ['download, no dir', ['download', 'ok-bucket', 'OUT'], /missing the local directory/],
    ['download s3://, no dir (it named the missing argument "prefix")', ['download', 's3://ok-bucket/p'], /missing the local directory: expected s3x download s3:\/\/ok-bucket\/p <dir>/],
    ['download, the dir before the URL', ['download', 'OUT', 's3://ok-bucket/p'], /the s3:\/\/ URL comes first: s3x download s3:\/\/ok-bucket\/p /],
    ['upload, the URL before the dir', ['upload', 's3://ok-bucket/p', 'TREE'], /upload sends a local directory: s3x upload .* s3:\/\/ok-bucket\/p \(to fetch from S3: s3x download\)/],
    ['delete-prefix dry-run, IP address', ['delete-prefix', 's3://10.1.2.3/p', '--dry-run'], /not look like an IP address/],
    ['sync, short name', ['sync', 'TREE', 's3://ab/p'], /'ab' is not a valid bucket name: it has 2 characters/],
    ['presign, no key', ['presign', 's3://ok-bucket/'], /names no key/],
    ['cleanup-multipart dry-run, trailing hyphen', ['cleanup-multipart', 's3://bucket-/p', '--dry-run'], /must start and end with a letter or digit/],
    ['perf-data, upper case', ['perf-data', 'TREE', 's3://Perf/x'], /'Perf' is not a valid bucket name/],
  ];
  it.each(cases)('%s', async (_name, args, message) => {
    const argv = args.map((a) => (a === 'TREE' ? tree : a === 'OUT' ? path.join(scratch, 'never') : a));
    const r = await runCli(env, [...argv, ...deadEp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^s3x: error: [^\n]+\n$/);
    expect(r.stdout).toBe('');
    expect(fs.existsSync(path.join(scratch, 'never'))).toBe(false);
  });
});

describe("commander's usage errors: one line, exit 2", () => {
  it.each([
    ['ls with no bucket', ['ls'], /missing required argument 'bucket'/],
    ['an unknown option', ['upload', 'TREE', 's3://ok-bucket/p', '--bogus'], /unknown option '--bogus'/],
    ['sync s3://… with no directory', ['sync', 's3://ok-bucket/p'], /missing required argument 'target'/],
  ])('%s', async (_name, args, message) => {
    const r = await runCli(env, [...args.map((a) => (a === 'TREE' ? tree : a)), ...deadEp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^error: [^\n]+ \(run with --help for usage\)\n$/);
  });
});
