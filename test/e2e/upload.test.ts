/**
 * `s3x upload` end to end: the built CLI against real Ceph RGW gateways (test/support/global-setup.ts).
 * Every result is checked by listing and by reading objects back, never by trusting the CLI's output.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, fileMd5, listAll, makeBucket, makeTree, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const endpointFlags = env.endpoints.flatMap((e) => ['--endpoint-url', e]);
const oneEndpoint = ['--endpoint-url', env.endpoints[0]!];

const AWKWARD = [
  'a b/with space.txt', 'unicode/ünï cødé 文件.txt', 'plus+sign.txt', 'per%cent%20.txt', 'hash#tag.txt',
  'amp&er=sand;.txt', 'quote\'s (1).txt', 'tilde~star*.txt',
];

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'upload'));
  for (let i = 0; i < 30; i++) files[`nested/d${i % 3}/deeper/f${i}.dat`] = crypto.randomBytes(100 + i * 37);
  files['empty.bin'] = Buffer.alloc(0);
  files['.hidden/.dotfile'] = Buffer.from('dot');
  for (const name of AWKWARD) files[name] = Buffer.from(`content of ${name}`);
  files['big/large.bin'] = crypto.randomBytes(12 * MIB + 12345); // 3 parts of 5 MiB
  files['medium.bin'] = crypto.randomBytes(300 * 1024); // streamed single PUT (> 256 KiB buffer limit)
  tree = makeTree(files);
});

afterAll(async () => {
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

async function expectExactCopy(prefix: string, expected: Record<string, Buffer>): Promise<void> {
  const listed = await listAll(env, bucket, prefix);
  const want = Object.keys(expected).map((rel) => (prefix ? `${prefix}${rel}` : rel)).sort();
  expect(listed.map((o) => o.Key).sort()).toEqual(want);
  for (const o of listed) {
    const rel = o.Key!.slice(prefix.length);
    expect(o.Size, o.Key).toBe(expected[rel]!.length);
  }
  // content, read back through a different gateway each time
  let i = 0;
  for (const [rel, content] of Object.entries(expected)) {
    const md5 = await objectMd5(env, bucket, `${prefix}${rel}`, env.endpoints[i++ % env.endpoints.length]);
    expect(md5, rel).toBe(crypto.createHash('md5').update(content).digest('hex'));
  }
}

describe('s3x upload', () => {
  it('uploads a tree exactly, over every endpoint, with multipart, and --json adds up', async () => {
    const r = await runCli(env, ['upload', tree, bucket, 'run1', ...endpointFlags,
      '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json', '-c', '8']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await expectExactCopy('run1/', files);

    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = records.at(-1)!;
    expect(summary.type).toBe('summary');
    const requests = records.filter((x) => x.type === 'request');
    const n = Object.keys(files).length;
    expect(summary.files).toBe(n);
    expect(summary.failed).toEqual([]);
    const totalBytes = Object.values(files).reduce((s, b) => s + b.length, 0);
    expect(summary.bytes).toBe(totalBytes);
    // data requests: one PutObject per small file, 3 UploadParts for the large one
    const data = requests.filter((x) => x.op === 'PutObject' || x.op === 'UploadPart');
    expect(data.filter((x) => x.op === 'UploadPart')).toHaveLength(3);
    expect(data.filter((x) => x.op === 'PutObject')).toHaveLength(n - 1);
    expect(data.reduce((s, x) => s + (x.bytes as number), 0)).toBe(totalBytes);
    expect(requests.every((x) => x.ok === true && (x.attempts as number) >= 1)).toBe(true);
    expect(summary.requests).toBe(requests.length);
    // round-robin: every gateway carried requests
    const used = new Set(requests.map((x) => x.endpoint));
    expect(used.size).toBe(env.endpoints.length);
    for (const x of requests) {
      for (const col of ['successMs', 'totalMs', 'mbps', 'mbpsEst']) expect(typeof x[col], col).toBe('number');
      expect(x.totalMs as number).toBeGreaterThanOrEqual(x.successMs as number);
    }
  });

  it('joins the prefix with exactly one "/" and prints the per-request table', async () => {
    const small = makeTree({ 'x/one.txt': 'one', 'two.txt': 'two' });
    try {
      const r = await runCli(env, ['upload', small, bucket, '//deep/pre//', ...oneEndpoint, '--table']);
      expect(r.code).toBe(0);
      const keys = (await listAll(env, bucket, 'deep/')).map((o) => o.Key).sort();
      expect(keys).toEqual(['deep/pre/two.txt', 'deep/pre/x/one.txt']);
      for (const col of ['attempts', 'bytes', 'success_ms', 'total_ms', 'MBps', 'MBps est', 'endpoint']) expect(r.stdout).toContain(col);
      expect(r.stdout).toContain('deep/pre/x/one.txt');
      expect(r.stdout).toMatch(/Uploaded 2 files, 6 B to s3:\/\/\S+\/deep\/pre\/ in [\d.]+ s: [\d.]+ MB\/s, [\d.]+ objects\/s/);
      expect(r.stdout).toContain('Failed: 0');
    } finally {
      fs.rmSync(small, { recursive: true, force: true });
    }
  });

  it('honours --include and --exclude (base-name globs and path globs)', async () => {
    const r = await runCli(env, ['upload', tree, bucket, 'filtered', ...oneEndpoint,
      '--include', '*.dat', '--include', '*.txt', '--exclude', 'nested/d1/**', '--exclude', '*space*']);
    expect(r.code).toBe(0);
    const keys = new Set((await listAll(env, bucket, 'filtered/')).map((o) => o.Key!.slice('filtered/'.length)));
    const want = Object.keys(files).filter((k) => (k.endsWith('.dat') || k.endsWith('.txt')) && !k.startsWith('nested/d1/') && !k.includes('space'));
    expect([...keys].sort()).toEqual(want.sort());
    expect(want.length).toBeGreaterThan(20);
  });

  it('--dry-run lists what would go and sends nothing', async () => {
    const r = await runCli(env, ['upload', tree, bucket, 'dry', ...oneEndpoint, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would upload big/large.bin → s3://');
    expect(r.stdout).toContain(`Dry run: would upload ${Object.keys(files).length} files`);
    expect(await listAll(env, bucket, 'dry/')).toHaveLength(0);
  });

  it('skips symlinks by default, follows them with --follow-symlinks, and survives a loop', async () => {
    const t = makeTree({ 'real/a.txt': 'a', 'real/b.txt': 'b', 'top.txt': 'top' });
    try {
      fs.symlinkSync('real', path.join(t, 'dirlink'));
      fs.symlinkSync('top.txt', path.join(t, 'filelink.txt'));
      fs.symlinkSync('..', path.join(t, 'real', 'loop')); // real/loop → t: a loop when followed
      fs.symlinkSync('nowhere', path.join(t, 'broken'));

      const plain = await runCli(env, ['upload', t, bucket, 'links-off', ...oneEndpoint]);
      expect(plain.code).toBe(0);
      expect((await listAll(env, bucket, 'links-off/')).map((o) => o.Key).sort())
        .toEqual(['links-off/real/a.txt', 'links-off/real/b.txt', 'links-off/top.txt']);
      expect(plain.stdout).toMatch(/dirlink: symlink not followed/);

      const follow = await runCli(env, ['upload', t, bucket, 'links-on', ...oneEndpoint, '--follow-symlinks']);
      expect(follow.code).toBe(0);
      expect((await listAll(env, bucket, 'links-on/')).map((o) => o.Key).sort()).toEqual([
        'links-on/dirlink/a.txt', 'links-on/dirlink/b.txt', 'links-on/filelink.txt',
        'links-on/real/a.txt', 'links-on/real/b.txt', 'links-on/top.txt',
      ]);
      expect(follow.stdout).toMatch(/real\/loop: symlink loop/);
      expect(follow.stdout).toMatch(/broken: broken symlink/);
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });

  it('names an unreadable file and directory, uploads the rest, exits 1', async () => {
    const t = makeTree({ 'ok/1.txt': '1', 'ok/2.txt': '2', 'secret.txt': 's', 'locked/inner.txt': 'i' });
    try {
      // root reads everything: run the CLI as 'nobody' so permissions bite
      for (const d of [t, path.join(t, 'ok')]) fs.chmodSync(d, 0o755);
      for (const f of ['ok/1.txt', 'ok/2.txt']) fs.chmodSync(path.join(t, f), 0o644);
      fs.chmodSync(path.join(t, 'secret.txt'), 0o000);
      fs.chmodSync(path.join(t, 'locked'), 0o000);
      const r = await runCli(env, ['upload', t, bucket, 'perm', ...oneEndpoint], { uid: 65534 });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/Failed: 2 files/);
      expect(r.stdout).toMatch(/secret\.txt: .*EACCES/);
      expect(r.stdout).toMatch(/locked: cannot read directory: EACCES/);
      expect((await listAll(env, bucket, 'perm/')).map((o) => o.Key).sort()).toEqual(['perm/ok/1.txt', 'perm/ok/2.txt']);
    } finally {
      fs.chmodSync(path.join(t, 'locked'), 0o755);
      fs.rmSync(t, { recursive: true, force: true });
    }
  });

  it('is usable as a library: import { upload } from "s3x"', async () => {
    const { upload } = await import('s3x');
    const t = makeTree({ 'lib/a.txt': 'library' });
    try {
      const seen: string[] = [];
      const summary = await upload({
        dir: t, bucket, prefix: 'libapi', endpointUrls: [env.endpoints[1]!], region: env.region,
        credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
        onReport: (r) => seen.push(`${r.op} ${r.key}`),
      });
      expect(summary.files).toBe(1);
      expect(summary.failed).toEqual([]);
      expect(seen).toContain('PutObject libapi/lib/a.txt');
      expect(await objectMd5(env, bucket, 'libapi/lib/a.txt')).toBe(fileMd5(path.join(t, 'lib/a.txt')));
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });
});

describe('s3x upload: bad input gives one clear line and a non-zero exit', () => {
  const oneLine = (stderr: string): string => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^s3x: error: /);
    return lines[0]!;
  };

  it.each([
    ['missing dir', ['upload', '/nonexistent/dir', 'B', ...oneEndpoint], /directory '\/nonexistent\/dir' does not exist/],
    ['file as dir', ['upload', '/etc/hostname', 'B', ...oneEndpoint], /'\/etc\/hostname' is not a directory/],
    ['malformed endpoint', ['upload', '.', 'B', '--endpoint-url', 'htp//nope'], /--endpoint-url 'htp\/\/nope' is not a URL/],
    ['bad part size', ['upload', '.', 'B', ...oneEndpoint, '--part-size', '1MiB'], /--part-size must be from 5 MiB to 5 GiB/],
    ['bad concurrency', ['upload', '.', 'B', ...oneEndpoint, '-c', '0'], /--concurrency: '0' must be a whole number from 1 to 1024/],
  ])('%s → exit 2', async (_name, args, message) => {
    const r = await runCli(env, args.map((a) => (a === 'B' ? bucket : a)));
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(message);
  });

  it.each([
    ['missing bucket', {}, 'no-such-bucket-s3x', /bucket 'no-such-bucket-s3x' does not exist at http:\/\/127\.0\.0\.1:\d+/],
    ['wrong secret key', { AWS_SECRET_ACCESS_KEY: 'wrong-secret' }, '', /credentials rejected by .*secret key does not match/],
    ['unknown access key', { AWS_ACCESS_KEY_ID: 'NOSUCHKEY' }, '', /credentials rejected by .*access key id is unknown/],
    ['no credentials', { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, '', /no AWS credentials found/],
  ])('%s → exit 2, nothing sent', async (_name, extraEnv, bucketName, message) => {
    const t = makeTree({ 'f.txt': 'x' });
    try {
      const r = await runCli(env, ['upload', t, bucketName || bucket, 'badinput', ...oneEndpoint], { env: extraEnv });
      expect(r.code).toBe(2);
      expect(oneLine(r.stderr)).toMatch(message);
      expect(r.stderr).not.toContain('wrong-secret');
      expect(r.stdout).not.toContain('wrong-secret');
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });

  it('unreachable endpoint → exit 2 naming it', async () => {
    const t = makeTree({ 'f.txt': 'x' });
    try {
      // a tree of our own, not os.tmpdir(): whatever else sits in /tmp must not decide the exit code
      const r = await runCli(env, ['upload', t, bucket, '--endpoint-url', 'http://127.0.0.1:9', '--dry-run']);
      expect(r.code).toBe(0); // a dry run contacts nobody
      const r2 = await runCli(env, ['upload', t, bucket, '--endpoint-url', 'http://127.0.0.1:9']);
      expect(r2.code).toBe(2);
      expect(oneLine(r2.stderr)).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });
});

describe('s3x upload: interrupt', () => {
  it('SIGINT stops, aborts open multipart uploads, prints the summary, exits 130', async () => {
    const { spawn } = await import('node:child_process');
    const { BIN } = await import('../support/s3.js');
    const t = makeTree(Object.fromEntries([
      ['huge.bin', crypto.randomBytes(40 * MIB)],
      ...Array.from({ length: 200 }, (_, i) => [`small/${i}.txt`, `small ${i}`]),
    ]));
    try {
      const child = spawn(process.execPath, [BIN, 'upload', t, bucket, 'intr', ...oneEndpoint, '--json', '-c', '2',
        '--multipart-threshold', '5MiB', '--part-size', '5MiB'], {
        env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let sent = false;
      const code = await new Promise<number | null>((resolve) => {
        const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          // interrupt once the first part has landed: the multipart upload is open
          if (!sent && stdout.includes('"op":"UploadPart"')) { sent = true; child.kill('SIGINT'); }
        });
        child.on('close', (c) => { clearTimeout(killer); resolve(c); });
      });
      expect(sent).toBe(true);
      expect(code).toBe(130);
      const summary = JSON.parse(stdout.trim().split('\n').at(-1)!) as { type: string; interrupted: boolean; files: number };
      expect(summary.type).toBe('summary');
      expect(summary.interrupted).toBe(true);
      const s3 = client(env);
      try {
        const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'intr/' }));
        expect(open.Uploads ?? []).toEqual([]);
      } finally {
        s3.destroy();
      }
      // nothing uploaded before the interrupt is lost
      const listed = await listAll(env, bucket, 'intr/');
      expect(listed.length).toBe(summary.files);
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });
});
