/**
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL name the gateway when no --endpoint-url (nor a pool) is
 * given; the S3-specific variable wins over the general one, and the flag over both.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
/** nothing listens there */
const DEAD = 'http://127.0.0.1:9';

let bucket: string;
let drop: () => Promise<void>;
let tree: string;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'envep'));
  tree = makeTree({ 'a.txt': 'alpha', 'd/b.txt': 'bravo' });
});
afterAll(async () => {
  await drop?.();
  fs.rmSync(tree, { recursive: true, force: true });
});

describe('endpoint from the environment', () => {
  it('AWS_ENDPOINT_URL_S3 alone: upload, ls and download talk to the gateway', async () => {
    const only = { env: { AWS_ENDPOINT_URL_S3: env.endpoints[0]! } };
    const up = await runCli(env, ['upload', tree, `s3://${bucket}/e`], only);
    expect(up.code, up.stderr).toBe(0);
    expect((await listAll(env, bucket, 'e/')).map((o) => o.Key).sort()).toEqual(['e/a.txt', 'e/d/b.txt']);
    const ls = await runCli(env, ['ls', `s3://${bucket}/e`, '-r'], only);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/ 5 e\/d\/b\.txt\n/);
    const out = path.join(tree, '..', `${path.basename(tree)}-dl`);
    try {
      const dl = await runCli(env, ['download', `s3://${bucket}/e`, out], only);
      expect(dl.code, dl.stderr).toBe(0);
      expect(fs.readFileSync(path.join(out, 'd/b.txt'), 'utf8')).toBe('bravo');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('AWS_ENDPOINT_URL alone works; AWS_ENDPOINT_URL_S3 wins over it', async () => {
    const general = await runCli(env, ['ls', bucket], { env: { AWS_ENDPOINT_URL: env.endpoints[1]! } });
    expect(general.code, general.stderr).toBe(0);
    expect(general.stdout).toMatch(/PRE e\//);
    const both = await runCli(env, ['ls', bucket], { env: { AWS_ENDPOINT_URL_S3: env.endpoints[0]!, AWS_ENDPOINT_URL: DEAD } });
    expect(both.code, both.stderr).toBe(0);
    expect(both.stdout).toMatch(/PRE e\//);
  });

  it('--endpoint-url wins over a bad AWS_ENDPOINT_URL (malformed or dead)', async () => {
    for (const bad of ['not a url', DEAD]) {
      const r = await runCli(env, ['ls', bucket, '--endpoint-url', env.endpoints[0]!], { env: { AWS_ENDPOINT_URL: bad } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/PRE e\//);
    }
  });

  it('a malformed variable, with no flag, is one line naming it (exit 2)', async () => {
    const r = await runCli(env, ['ls', bucket], { env: { AWS_ENDPOINT_URL_S3: 'not a url' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("s3x: error: AWS_ENDPOINT_URL_S3 'not a url' is not a URL (expected e.g. http://127.0.0.1:7480)\n");
  });

  it('presign points at AWS_ENDPOINT_URL_S3', async () => {
    const r = await runCli(env, ['presign', `s3://${bucket}/e/a.txt`], { env: { AWS_ENDPOINT_URL_S3: env.endpoints[0]! } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith(`${env.endpoints[0]!}/${bucket}/e/a.txt?`)).toBe(true);
    expect(await (await fetch(r.stdout.trim())).text()).toBe('alpha');
  });
});
