/**
 * The delete paths besides delete-prefix itself, against the real gateways: `sync --delete`
 * goes through delete-prefix's batcher (keys XML cannot carry are deleted alone, its requests
 * reach the summary), and `cleanup-multipart` selects by the folder rule and stops cleanly on
 * Ctrl-C. Results are checked with the SDK, never by trusting the CLI's output.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import { CreateMultipartUploadCommand, DeleteObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { putObjects } from '../support/seed.js';
import { BIN, client, listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const ep = ['--endpoint-url', env.endpoints[0]!];

let bucket: string;
let drop: () => Promise<void>;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'delsafe')); });
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await drop?.();
});
type Rec = Record<string, unknown> & { type: string };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);

/** Keys with characters XML 1.0 cannot carry: the bucket's drop (DeleteObjects) could not remove them. */
async function dropOneByOne(keys: readonly string[]): Promise<void> {
  const s3 = client(env);
  try {
    for (const k of keys) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
  } finally {
    s3.destroy();
  }
}

async function openUploads(prefix = ''): Promise<string[]> {
  const s3 = client(env);
  try {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, ...(prefix && { Prefix: prefix }) }));
    return (out.Uploads ?? []).map((u) => u.Key!).sort();
  } finally {
    s3.destroy();
  }
}

async function createUploads(keys: readonly string[]): Promise<void> {
  const s3 = client(env);
  try {
    for (const k of keys) await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: k }));
  } finally {
    s3.destroy();
  }
}

describe('sync --delete uses the one delete batcher', () => {
  it('remote-only keys with control characters are deleted with the rest; its requests reach the summary', async () => {
    const t = makeTree({ 'keep.txt': 'keep' });
    cleanups.push(() => fs.rmSync(t, { recursive: true, force: true }));
    expect((await runCli(env, ['sync', t, bucket, 'cs', ...ep])).code).toBe(0);
    const ctl = ['cs/a\u0001b', 'cs/x\u000by.txt'];
    cleanups.push(() => dropOneByOne(ctl));
    await putObjects(env, bucket, [...ctl, 'cs/gone1.txt', 'cs/gone2.txt', 'cs-other/x.txt'].map((k) => [k, k] as const));

    const r = await runCli(env, ['sync', t, bucket, 'cs', ...ep, '--delete', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout.split('\n').filter((l) => l.includes('"summary"')).join('')).toBe(0);
    const recs = records(r.stdout);
    const summary = recs.at(-1) as unknown as { plan: { remoteOnly: number }; deleted: number; deleteFailed: unknown[]; requests: number; endpoints: Array<{ requests: number }> };
    expect(summary).toMatchObject({ plan: { remoteOnly: 4 }, deleted: 4, deleteFailed: [] });
    const requests = recs.filter((x) => x.type === 'request');
    expect(requests.filter((x) => String(x.op).startsWith('Delete')).length).toBeGreaterThanOrEqual(3);
    expect(summary.requests).toBe(requests.length);
    // every reported request was sent by one of the run's endpoints, deletes included
    expect(summary.endpoints.reduce((n, e) => n + e.requests, 0)).toBeGreaterThanOrEqual(requests.length);
    expect((await listAll(env, bucket, 'cs')).map((o) => o.Key).sort()).toEqual(['cs-other/x.txt', 'cs/keep.txt']);
  });
});

describe('cleanup-multipart', () => {
  it('selects by the folder rule ("ci" is not "ci-other/"); --raw-prefix matches the string', async () => {
    await createUploads(['ci/a.bin', 'ci-other/b.bin', 'ci.bin']);
    const r = await runCli(env, ['cleanup-multipart', bucket, 'ci', ...ep, '--older-than', '0s']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/under s3:\/\/[^/]+\/ci\/: 1; aborted 1;/);
    expect(await openUploads('ci')).toEqual(['ci-other/b.bin', 'ci.bin']);
    const raw = await runCli(env, ['cleanup-multipart', bucket, 'ci', ...ep, '--older-than', '0s', '--raw-prefix']);
    expect(raw.code).toBe(0);
    expect(await openUploads('ci')).toEqual([]);
  });

  it('Ctrl-C while it runs: one line on stderr, no stack, exit 130', async () => {
    await createUploads(['int/a.bin']);
    cleanups.push(() => runCli(env, ['cleanup-multipart', bucket, 'int', ...ep, '--older-than', '0s']));
    // the listing of open uploads answers after 8 s: the interrupt lands while it waits
    const proxy: FaultProxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /[?&]uploads/, delayMs: 8000 } });
    cleanups.push(() => proxy.close());
    const child = spawn(process.execPath, [BIN, 'cleanup-multipart', bucket, 'int', '--endpoint-url', proxy.url, '--older-than', '0s'], {
      env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const poll = setInterval(() => {
        if (proxy.stats().matched > 0) { clearInterval(poll); child.kill('SIGINT'); }
      }, 50);
      child.on('close', (c) => { clearTimeout(killer); clearInterval(poll); resolve(c); });
    });
    expect(stderr.trim().split('\n'), stderr).toHaveLength(1);
    expect(stderr).toMatch(/^\ns3x: SIGINT: stopping/);
    expect(code).toBe(130);
  });
});
