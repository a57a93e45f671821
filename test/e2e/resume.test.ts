/**
 * `upload --resume` and `sync` (issue 13 item 5) against a real gateway, every s3x request
 * counted through the fault proxy: a run killed mid-upload is continued by sending only the
 * parts not stored; a part whose bytes changed since is sent again; an open upload cut with
 * another part size is left alone (and named); Ctrl-C with --resume leaves the upload open.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListPartsCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy, type FaultSpec } from '../support/fault-proxy.js';
import { BIN, client, makeBucket, makeTree, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
/** 6 parts of 5 MiB, the last one 4 MiB */
const FILE_BYTES = 29 * MIB;
const PART_ARGS = ['--multipart-threshold', '5MiB', '--part-size', '5MiB'];

let bucket: string;
let drop: () => Promise<void>;
const trees: string[] = [];
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'resume'));
});

afterEach(async () => {
  while (proxies.length) await proxies.pop()!.close();
});

afterAll(async () => {
  await drop?.();
  for (const t of trees) fs.rmSync(t, { recursive: true, force: true });
});

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

function tree(files: Record<string, Buffer>): string {
  const t = makeTree(files);
  trees.push(t);
  return t;
}

async function proxy(faults: FaultSpec = {}): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: env.endpoints[0]!, faults });
  proxies.push(p);
  return p;
}

/** The part numbers of `key` sent through `p` (its UploadPart requests), sorted, each once: a part hedged or retried under load is still one part sent. */
function partsSent(p: FaultProxy, key: string): number[] {
  const re = new RegExp(`^PUT /${bucket}/${key}\\?(?:.*&)?partNumber=(\\d+)`);
  return [...new Set(p.requestLog().flatMap((l) => { const m = re.exec(l); return m ? [Number(m[1])] : []; }))].sort((a, b) => a - b);
}

function creates(p: FaultProxy, key: string): number {
  return p.requestLog().filter((l) => l.startsWith(`POST /${bucket}/${key}?uploads`)).length;
}

async function openUploads(prefix: string): Promise<Array<{ key: string; uploadId: string }>> {
  const s3 = client(env);
  try {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return (out.Uploads ?? []).map((u) => ({ key: u.Key!, uploadId: u.UploadId! }));
  } finally {
    s3.destroy();
  }
}

/**
 * The parts of an upload once no more land: a part whose body reached the gateway before the
 * client died is still stored after it (listed every 250 ms until 4 listings agree; 20 s at most).
 */
async function settledParts(key: string, uploadId: string): Promise<number[]> {
  let last = await storedParts(key, uploadId);
  let same = 0;
  for (let i = 0; i < 80 && same < 3; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await storedParts(key, uploadId);
    same = now.join() === last.join() ? same + 1 : 0;
    last = now;
  }
  return last;
}

async function storedParts(key: string, uploadId: string): Promise<number[]> {
  const s3 = client(env);
  try {
    const out = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    return (out.Parts ?? []).map((x) => x.PartNumber!).sort((a, b) => a - b);
  } finally {
    s3.destroy();
  }
}

/** An open upload of `key` holding parts `numbers` of `content` cut in `partBytes` parts (an earlier, cut run). */
async function partialUpload(key: string, content: Buffer, partBytes: number, numbers: number[]): Promise<string> {
  const s3 = client(env);
  try {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    for (const n of numbers) {
      await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: content.subarray((n - 1) * partBytes, n * partBytes) }));
    }
    return UploadId!;
  } finally {
    s3.destroy();
  }
}

async function abortUpload(key: string, uploadId: string): Promise<void> {
  const s3 = client(env);
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } finally {
    s3.destroy();
  }
}

type Summary = { type: string; files?: number; interrupted?: boolean; resume?: { uploads: number; partsKept: number; passed: unknown[]; keptOpen: unknown[] } };
const summaryOf = (stdout: string): Summary => JSON.parse(stdout.trim().split('\n').at(-1)!) as Summary;

/**
 * Starts `upload … --resume` through a throttled proxy and sends `signal` once the store lists
 * at least `minParts` parts of `key` (polled, bounded by 60 s); resolves with the exit code and stdout.
 */
async function interruptAfterParts(args: string[], key: string, minParts: number, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; sent: boolean }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let sent = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, sig) => resolve({ code, signal: sig })));
  let exited = false;
  void closed.then(() => { exited = true; });
  const deadline = Date.now() + 60_000;
  while (!exited && !sent && Date.now() < deadline) {
    const open = (await openUploads(key)).filter((u) => u.key === key);
    if (open.length === 1 && (await storedParts(key, open[0]!.uploadId)).length >= minParts) { sent = true; child.kill(signal); break; }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!sent && !exited) child.kill('SIGKILL');
  return { ...(await closed), stdout, stderr, sent };
}

describe('upload --resume', () => {
  it('after SIGKILL mid-upload, a re-run sends only the parts not stored; the object is byte-exact; no upload left open', async () => {
    const content = crypto.randomBytes(FILE_BYTES);
    const t = tree({ 'big.bin': content });
    const key = 'kill/big.bin';
    // throttled so the kill lands with some parts stored and others not
    const slow = await proxy({ match: /partNumber=/, throttleBytesPerSecTotal: 4 * MIB });
    const first = await interruptAfterParts(['upload', t, bucket, 'kill', '--endpoint-url', slow.url, ...PART_ARGS, '-c', '2', '--resume'], key, 2, 'SIGKILL');
    expect(first.sent).toBe(true);
    expect(first.signal).toBe('SIGKILL');
    await slow.close();
    const open = await openUploads(key);
    expect(open).toHaveLength(1);
    const stored = await settledParts(key, open[0]!.uploadId);
    expect(stored.length).toBeGreaterThanOrEqual(2);
    expect(stored.length).toBeLessThan(6);

    const counting = await proxy();
    const r = await runCli(env, ['upload', t, bucket, 'kill', '--endpoint-url', counting.url, ...PART_ARGS, '--resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const missing = [1, 2, 3, 4, 5, 6].filter((n) => !stored.includes(n));
    expect(partsSent(counting, key)).toEqual(missing);
    expect(creates(counting, key)).toBe(0);
    expect(summaryOf(r.stdout).resume).toMatchObject({ uploads: 1, partsKept: stored.length, passed: [], keptOpen: [] });
    expect(await objectMd5(env, bucket, key)).toBe(md5(content));
    expect(await openUploads('kill/')).toEqual([]);
  });

  it('a part whose bytes changed since the cut run is sent again under its number', async () => {
    const content = crypto.randomBytes(FILE_BYTES);
    const t = tree({ 'big.bin': content });
    const key = 'changed/big.bin';
    await partialUpload(key, content, 5 * MIB, [1, 2, 3]);
    // one byte of part 2 differs from what the store holds
    const edited = Buffer.from(content);
    edited[5 * MIB + 100] = edited[5 * MIB + 100]! ^ 0xff;
    fs.writeFileSync(path.join(t, 'big.bin'), edited);

    const counting = await proxy();
    const r = await runCli(env, ['upload', t, bucket, 'changed', '--endpoint-url', counting.url, ...PART_ARGS, '--resume', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(partsSent(counting, key)).toEqual([2, 4, 5, 6]);
    expect(creates(counting, key)).toBe(0);
    expect(summaryOf(r.stdout).resume).toMatchObject({ uploads: 1, partsKept: 2 });
    expect(await objectMd5(env, bucket, key)).toBe(md5(edited));
    expect(await openUploads('changed/')).toEqual([]);
  });

  it('an open upload cut in another part size is not continued: a fresh upload, the stale one left open and named', async () => {
    const content = crypto.randomBytes(FILE_BYTES);
    const t = tree({ 'big.bin': content });
    const key = 'foreign/big.bin';
    const stale = await partialUpload(key, content, 6 * MIB, [1, 2]);
    try {
      const counting = await proxy();
      const r = await runCli(env, ['upload', t, bucket, 'foreign', '--endpoint-url', counting.url, ...PART_ARGS, '--resume']);
      expect(r.code, r.stderr).toBe(0);
      expect(creates(counting, key)).toBe(1);
      expect(partsSent(counting, key)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await objectMd5(env, bucket, key)).toBe(md5(content));
      expect(await openUploads('foreign/')).toEqual([{ key, uploadId: stale }]);
      expect(await storedParts(key, stale)).toEqual([1, 2]);
      const named = r.stdout.split('\n').filter((l) => l.includes(stale));
      expect(named).toHaveLength(1);
      expect(named[0]).toMatch(/^Left open \(not continued: part size 6\.0 MiB, not 5\.0 MiB\): s3:\/\/.*\/foreign\/big\.bin upload .*cleanup-multipart/);
    } finally {
      await abortUpload(key, stale);
    }
  });

  it('Ctrl-C with --resume leaves the upload holding parts open, says so, and the next --resume finishes it', async () => {
    const content = crypto.randomBytes(FILE_BYTES);
    const t = tree({ 'big.bin': content });
    const key = 'intr/big.bin';
    const slow = await proxy({ match: /partNumber=/, throttleBytesPerSecTotal: 4 * MIB });
    const first = await interruptAfterParts(['upload', t, bucket, 'intr', '--endpoint-url', slow.url, ...PART_ARGS, '-c', '2', '--resume'], key, 1, 'SIGINT');
    expect(first.sent).toBe(true);
    expect(first.code).toBe(130);
    expect(first.stdout).toMatch(/^Left open for resume: 1 multipart upload holding parts \(rerun with --resume to continue; `s3x cleanup-multipart .* intr --older-than 0s` removes them\)$/m);
    // the line printed on Ctrl-C said "open multipart uploads aborted" while --resume kept them
    expect(first.stderr).toMatch(/^s3x: SIGINT: stopping \(.*left open for resume under upload --resume and sync\)/m);
    expect(first.stderr).not.toMatch(/open multipart uploads aborted\)/);
    await slow.close();
    const open = await openUploads(key);
    expect(open).toHaveLength(1);
    const stored = await settledParts(key, open[0]!.uploadId);
    expect(stored.length).toBeGreaterThanOrEqual(1);

    const counting = await proxy();
    const r = await runCli(env, ['upload', t, bucket, 'intr', '--endpoint-url', counting.url, ...PART_ARGS, '--resume']);
    expect(r.code, r.stderr).toBe(0);
    expect(partsSent(counting, key)).toEqual([1, 2, 3, 4, 5, 6].filter((n) => !stored.includes(n)));
    expect(r.stdout).toMatch(new RegExp(`^Resumed: 1 multipart upload, ${stored.length} parts? already stored and not sent again$`, 'm'));
    expect(await objectMd5(env, bucket, key)).toBe(md5(content));
    expect(await openUploads('intr/')).toEqual([]);
  });
});

describe('sync resumes by default', () => {
  it('continues an open upload of a changed file; --no-resume starts afresh and leaves the other alone', async () => {
    const content = crypto.randomBytes(FILE_BYTES);
    const t = tree({ 'big.bin': content });
    const key = 'sync/big.bin';
    await partialUpload(key, content, 5 * MIB, [1, 2]);
    const counting = await proxy();
    const r = await runCli(env, ['sync', t, `s3://${bucket}/sync`, '--endpoint-url', counting.url, ...PART_ARGS]);
    expect(r.code, r.stderr).toBe(0);
    expect(partsSent(counting, key)).toEqual([3, 4, 5, 6]);
    expect(r.stdout).toMatch(/^Resumed: 1 multipart upload, 2 parts already stored and not sent again$/m);
    expect(await objectMd5(env, bucket, key)).toBe(md5(content));
    expect(await openUploads('sync/')).toEqual([]);

    // changed again (newer mtime), with a cut upload of its new bytes: --no-resume does not look
    const edited = crypto.randomBytes(FILE_BYTES);
    fs.writeFileSync(path.join(t, 'big.bin'), edited);
    const later = new Date(Date.now() + 3600_000);
    fs.utimesSync(path.join(t, 'big.bin'), later, later);
    const stale = await partialUpload(key, edited, 5 * MIB, [1, 2]);
    try {
      const again = await proxy();
      const r2 = await runCli(env, ['sync', t, `s3://${bucket}/sync`, '--endpoint-url', again.url, ...PART_ARGS, '--no-resume']);
      expect(r2.code, r2.stderr).toBe(0);
      expect(creates(again, key)).toBe(1);
      expect(partsSent(again, key)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await objectMd5(env, bucket, key)).toBe(md5(edited));
      expect(await openUploads('sync/')).toEqual([{ key, uploadId: stale }]);
    } finally {
      await abortUpload(key, stale);
    }
  });
});
