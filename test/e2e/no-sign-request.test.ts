/**
 * --no-sign-request against a public bucket on the gateways: ls and download work with no
 * credentials in the environment, on the signed path and on the SDK path (--profile without a
 * region flag goes through the SDK); without the flag and without credentials: one line, exit 2.
 *
 * Public here means a bucket policy granting s3:ListBucket and s3:GetObject to "*": Ceph 16
 * honours it for anonymous requests, while a public-read bucket ACL only opens the listing
 * (GetObject stays 403 unless each object is public-read too, as on AWS).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const ep = ['--endpoint-url', env.endpoints[0]!];
const NO_KEYS = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };

let pub: { bucket: string; drop: () => Promise<void> };
let priv: { bucket: string; drop: () => Promise<void> };
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-nosign-'));
let tree: string;

beforeAll(async () => {
  pub = await makeBucket(env, 'pub');
  priv = await makeBucket(env, 'priv');
  tree = makeTree({ 'a.txt': 'alpha', 'd/b.txt': 'bravo' });
  for (const b of [pub.bucket, priv.bucket]) {
    const up = await runCli(env, ['upload', tree, `s3://${b}/data`, ...ep]);
    expect(up.code, up.stderr).toBe(0);
  }
  const s3 = client(env);
  try {
    await s3.send(new PutBucketPolicyCommand({
      Bucket: pub.bucket,
      Policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:ListBucket', 's3:GetObject'], Resource: [`arn:aws:s3:::${pub.bucket}`, `arn:aws:s3:::${pub.bucket}/*`] }],
      }),
    }));
  } finally {
    s3.destroy();
  }
});
afterAll(async () => {
  await pub?.drop();
  await priv?.drop();
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.rmSync(tree, { recursive: true, force: true });
});

describe('--no-sign-request', () => {
  it('ls and download a public bucket with no credentials anywhere (signed path)', async () => {
    const ls = await runCli(env, ['ls', `s3://${pub.bucket}/data`, '-r', '--no-sign-request', ...ep], { env: NO_KEYS });
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/ 5 data\/a\.txt\n/);
    expect(ls.stdout).toMatch(/ 5 data\/d\/b\.txt\n/);
    const out = path.join(scratch, 'signed');
    const dl = await runCli(env, ['download', `s3://${pub.bucket}/data`, out, '--no-sign-request', ...ep], { env: NO_KEYS });
    expect(dl.code, dl.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'a.txt'), 'utf8')).toBe('alpha');
    expect(fs.readFileSync(path.join(out, 'd/b.txt'), 'utf8')).toBe('bravo');
  });

  it('the same through the SDK path (a profile that names only a region, no keys)', async () => {
    const config = path.join(scratch, 'aws-config');
    fs.writeFileSync(config, `[profile public]\nregion = ${env.region}\n`);
    const only = { env: { ...NO_KEYS, AWS_REGION: undefined, AWS_CONFIG_FILE: config } };
    const ls = await runCli(env, ['ls', `s3://${pub.bucket}/data/d/`, '--profile', 'public', '--no-sign-request', ...ep], only);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/ 5 data\/d\/b\.txt\n/);
    const out = path.join(scratch, 'sdk');
    const dl = await runCli(env, ['download', `s3://${pub.bucket}/data`, out, '--profile', 'public', '--no-sign-request', ...ep], only);
    expect(dl.code, dl.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'd/b.txt'), 'utf8')).toBe('bravo');
  });

  it('without the flag and without credentials: one clear line, exit 2', async () => {
    for (const cmd of [['ls', `s3://${pub.bucket}/data`], ['download', `s3://${pub.bucket}/data`, path.join(scratch, 'nokeys')]]) {
      const r = await runCli(env, [...cmd, ...ep], { env: NO_KEYS });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^s3x: error: no AWS credentials found: [^\n]*--no-sign-request[^\n]*\n$/);
    }
  });

  it('sync s3://… <dir> --delete and endpoints check, anonymous (the table said credentials "yes")', async () => {
    const out = path.join(scratch, 'sync-down');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'stale.txt'), 'gone remotely');
    const sd = await runCli(env, ['sync', `s3://${pub.bucket}/data`, out, '--delete', '--no-sign-request', ...ep], { env: NO_KEYS });
    expect(sd.code, sd.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'd/b.txt'), 'utf8')).toBe('bravo');
    expect(fs.existsSync(path.join(out, 'stale.txt'))).toBe(false);
    const check = await runCli(env, ['endpoints', 'check', `s3://${pub.bucket}`, '--no-sign-request', ...ep], { env: NO_KEYS });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/│ yes +│ anonymous +│ ok +│/);
  });

  it('a private bucket refuses anonymous requests (so they really go unsigned)', async () => {
    const r = await runCli(env, ['ls', `s3://${priv.bucket}/data`, '--no-sign-request', ...ep]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^s3x: error: [^\n]*AccessDenied[^\n]*\n$/);
  });

  it('sync s3://private… <dir> --delete, anonymous: the refused listing stops it, one line, nothing deleted', async () => {
    const out = path.join(scratch, 'kept');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'mine.txt'), 'local only');
    const r = await runCli(env, ['sync', `s3://${priv.bucket}/data`, out, '--delete', '--no-sign-request', ...ep]);
    expect(r.code).toBe(2);
    // it said "(nothing was sent)", which the download direction does not do anyway
    expect(r.stderr).toMatch(/^s3x: error: cannot list [^\n]*\(nothing was sent, written or deleted\)[^\n]*AccessDenied[^\n]*\n$/);
    expect(fs.readFileSync(path.join(out, 'mine.txt'), 'utf8')).toBe('local only');
  });
});
