/**
 * `s3x presign` end to end: the URLs it prints work with plain curl against real Ceph RGW
 * gateways (GET downloads, PUT uploads), awkward keys included; 604,801 s is refused.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { putObjects } from '../support/seed.js';
import { makeBucket, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const KEY = 'docs/ünï cødé+report (1)&.bin';

let bucket: string;
let drop: () => Promise<void>;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-presign-'));
const content = crypto.randomBytes(70_000);

/** curl, failing on HTTP errors; returns stdout. */
const curl = (...args: string[]): Buffer => execFileSync('curl', ['-sS', '--fail', ...args], { timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'presign'));
  await putObjects(env, bucket, [[KEY, content]]);
});

afterAll(async () => {
  await drop?.();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('s3x presign', () => {
  it('GET URL downloads the object with curl, through any gateway', async () => {
    for (const ep of env.endpoints) {
      const r = await runCli(env, ['presign', bucket, KEY, '--endpoint-url', ep]);
      expect(r.code).toBe(0);
      const url = r.stdout.trim();
      expect(url.startsWith(`${ep}/${bucket}/docs/`)).toBe(true);
      expect(url).toContain('X-Amz-Expires=3600');
      expect(url).not.toContain(env.secretAccessKey);
      expect(curl(url).equals(content)).toBe(true);
    }
  });

  it("aws-cli's form: s3://bucket/key and --expires-in", async () => {
    const r = await runCli(env, ['presign', `s3://${bucket}/${KEY}`, '--expires-in', '900', '--endpoint-url', env.endpoints[0]!, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const signed = JSON.parse(r.stdout) as { url: string; expiresInSec: number };
    expect(signed.expiresInSec).toBe(900);
    expect(signed.url).toContain('X-Amz-Expires=900');
    const bad = await runCli(env, ['presign', `s3://${bucket}/${KEY}`, '--expires-in', 'soon', '--endpoint-url', env.endpoints[0]!]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--expires-in');
  });

  it('PUT URL uploads with curl --upload-file; the object reads back exact', async () => {
    const file = path.join(work, 'upload.bin');
    const body = crypto.randomBytes(123_457);
    fs.writeFileSync(file, body);
    const key = 'inbox/from curl.bin';
    const r = await runCli(env, ['presign', bucket, key, '--method', 'put', '--expires', '600', '--endpoint-url', env.endpoints[1]!, '--json']);
    expect(r.code).toBe(0);
    const signed = JSON.parse(r.stdout) as { url: string; method: string; expiresInSec: number; expiresAt: string };
    expect(signed).toMatchObject({ method: 'PUT', expiresInSec: 600 });
    expect(Date.parse(signed.expiresAt) - Date.now()).toBeGreaterThan(590_000);
    curl('-X', 'PUT', '--upload-file', file, signed.url);
    expect(await objectMd5(env, bucket, key)).toBe(crypto.createHash('md5').update(body).digest('hex'));
    // a GET URL does not allow a PUT: the method is part of the signature
    const get = (await runCli(env, ['presign', bucket, key, '--endpoint-url', env.endpoints[1]!])).stdout.trim();
    expect(() => curl('-X', 'PUT', '--upload-file', file, get)).toThrow(/403/);
  });

  it('an expired URL is refused by the server', async () => {
    const url = (await runCli(env, ['presign', bucket, KEY, '--expires', '1', '--endpoint-url', env.endpoints[0]!])).stdout.trim();
    await new Promise((r) => setTimeout(r, 2100));
    expect(() => curl(url)).toThrow(/403/);
  });

  it('refuses more than 7 days, and junk, with one clear line (exit 2)', async () => {
    for (const [args, message] of [
      [['--expires', '604801'], /^s3x: error: --expires 604801 is more than 7 days \(604800 s\), the longest a SigV4 presigned URL can live\n$/],
      [['--expires', '0'], /^s3x: error: --expires must be a whole number of seconds ≥ 1, got 0\n$/],
      [['--expires', '1h'], /^s3x: error: --expires: '1h' must be a whole number from 1 to 604800\n$/],
      [['--method', 'DELETE'], /^s3x: error: --method must be GET or PUT, got 'DELETE'\n$/],
      // aws-cli's name was answered with '--expires 700000 …', and a second, different lifetime was ignored
      [['--expires-in', '700000'], /^s3x: error: --expires-in 700000 is more than 7 days \(604800 s\), the longest a SigV4 presigned URL can live\n$/],
      [['--expires-in', '600', '--expires', '700'], /^s3x: error: --expires 700 and --expires-in 600 disagree: give one\n$/],
    ] as const) {
      const r = await runCli(env, ['presign', bucket, KEY, '--endpoint-url', env.endpoints[0]!, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    const ok = await runCli(env, ['presign', bucket, KEY, '--expires', '604800', '--endpoint-url', env.endpoints[0]!]);
    expect(ok.code).toBe(0);
    expect(curl(ok.stdout.trim()).equals(content)).toBe(true);
  });
});
