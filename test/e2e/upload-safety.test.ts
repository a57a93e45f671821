/**
 * What an upload stores (issue 10, items 4, 5, 9), through the fault proxy in front of a real
 * gateway: an object s3x cannot vouch for is never left behind, SSE-KMS / SSE-C ETags are not
 * taken for MD5s (but the check is not switched off), and the multipart control calls
 * (Create/Complete/Abort) survive slow answers without losing or orphaning anything.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy, type FaultSpec } from '../support/fault-proxy.js';
import { client, listAll, makeBucket, makeTree, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;

let bucket: string;
let drop: () => Promise<void>;
const trees: string[] = [];
let proxy: FaultProxy | undefined;

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'upsafe'));
});

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

afterAll(async () => {
  await drop?.();
  for (const t of trees) fs.rmSync(t, { recursive: true, force: true });
});

type Rec = { type: string; op?: string; key?: string; part?: number; attempts?: number; ok?: boolean; error?: string; failed?: Array<{ path: string; error: string }>; files?: number };

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

function tree(files: Record<string, Buffer>): string {
  const t = makeTree(files);
  trees.push(t);
  return t;
}

async function through(faults: FaultSpec): Promise<FaultProxy> {
  proxy = await startFaultProxy({ target: env.endpoints[0]!, faults });
  return proxy;
}

function records(stdout: string): Rec[] {
  return stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Rec);
}

function upload(dir: string, prefix: string, extra: string[] = []): ReturnType<typeof runCli> {
  return runCli(env, ['upload', dir, bucket, prefix, '--endpoint-url', proxy!.url, '--multipart-threshold', '5MiB', '--part-size', '5MiB', ...extra]);
}

async function keys(prefix: string): Promise<string[]> {
  return (await listAll(env, bucket, prefix)).map((o) => o.Key!).sort();
}

async function openUploads(prefix: string): Promise<string[]> {
  const s3 = client(env);
  try {
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
    return (open.Uploads ?? []).map((u) => u.Key!);
  } finally {
    s3.destroy();
  }
}

/** a small (buffered), a streamed (> 256 KiB) and a multipart (3 × 5 MiB parts) file */
function threeKinds(): Record<string, Buffer> {
  return { 'small.txt': crypto.randomBytes(1000), 'streamed.bin': crypto.randomBytes(700 * 1024), 'multi.bin': crypto.randomBytes(11 * MIB) };
}

async function expectExact(prefix: string, files: Record<string, Buffer>): Promise<void> {
  expect(await keys(prefix)).toEqual(Object.keys(files).map((k) => `${prefix}${k}`).sort());
  for (const [rel, content] of Object.entries(files)) expect(await objectMd5(env, bucket, `${prefix}${rel}`), rel).toBe(md5(content));
}

describe('SSE-KMS / SSE-C answers (item 5)', () => {
  // Every PUT (object, part), Complete (POST) and HEAD answer carries the SSE header; objects
  // and HEAD get a random ETag (parts keep theirs: the server checks them on Complete).
  const KMS = { 'x-amz-server-side-encryption': 'aws:kms' };
  const RANDOM = /^(PUT [^?]*$|HEAD )/;
  it.each([
    ['SSE-KMS', KMS, /^(PUT|POST|HEAD) /],
    ['SSE-KMS DSSE', { 'x-amz-server-side-encryption': 'aws:kms:dsse' }, /^(PUT|POST|HEAD) /],
    ['SSE-C', { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }, /^(PUT|POST|HEAD) /],
    ['SSE-KMS said by objects and HEAD only, not parts', KMS, RANDOM],
  ])('%s: an ETag that is not the MD5 is not a mismatch; small, streamed and multipart arrive byte-exact', async (name, headers, match) => {
    const files = threeKinds();
    const t = tree(files);
    const p = await through({ match, randomEtag: RANDOM, responseHeaders: headers });
    const prefix = `sse-${name.replace(/\W/g, '')}/`;
    const r = await upload(t, prefix, ['--json']);
    expect(r.stderr).toBe('');
    expect(records(r.stdout).at(-1)!.failed).toEqual([]);
    expect(r.code).toBe(0);
    expect(p.stats().responsesRewritten).toBeGreaterThanOrEqual(3);
    await expectExact(prefix, files);
  });

  it('the same random ETags WITHOUT an SSE header still fail as ETag mismatches, and no object is left behind', async () => {
    const files = threeKinds();
    const t = tree(files);
    await through({ match: /^(PUT|POST|HEAD) /, randomEtag: RANDOM });
    const r = await upload(t, 'nosse/');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Failed: 3 files/);
    for (const f of Object.keys(files)) expect(r.stdout).toMatch(new RegExp(`${f.replace('.', '\\.')}: .*does not match the file's MD5`));
    expect(await keys('nosse/')).toEqual([]);
    expect(await openUploads('nosse/')).toEqual([]);
  });
});

describe('a failed check after the upload leaves no object behind (item 4)', () => {
  it('a multipart file rewritten in place between parts, same size and mtime, fails and is not stored; --skip-existing sends it again', async () => {
    const old = crypto.randomBytes(11 * MIB);
    const t = tree({ 'mixed.bin': old });
    const file = path.join(t, 'mixed.bin');
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000); // whole seconds: restored exactly below
    // one slot: part 3 is read only after part 2 has been answered; part 2 is held 1.5 s
    const p = await through({ match: /^PUT .*partNumber=2&/, delayMs: 1500 });
    const run = upload(t, 'mixed/', ['-c', '1']);
    const t0 = Date.now();
    while (p.stats().delayed === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
    expect(p.stats().delayed).toBe(1);
    // parts 1 and 3 rewritten (part 1 is already stored, part 3 not yet read), mtime put back
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, crypto.randomBytes(5 * MIB), 0, 5 * MIB, 0);
    fs.writeSync(fd, crypto.randomBytes(MIB), 0, MIB, 10 * MIB);
    fs.closeSync(fd);
    fs.utimesSync(file, 1_700_000_000, 1_700_000_000);
    const r = await run;
    expect(r.stdout).toMatch(/mixed\.bin: .*changed while it was being uploaded/);
    expect(r.code).toBe(1);
    expect(await keys('mixed/')).toEqual([]);
    expect(await openUploads('mixed/')).toEqual([]);

    await p.close();
    const again = await runCli(env, ['upload', t, bucket, 'mixed/', '--endpoint-url', env.endpoints[0]!, '--skip-existing',
      '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(again.code).toBe(0);
    expect(await objectMd5(env, bucket, 'mixed/mixed.bin')).toBe(md5(fs.readFileSync(file)));
  });

  it('timestamps that do not move (coarse clock): a recently changed file is hashed again after Complete, the mixed object removed', async () => {
    const { upload: uploadLib } = await import('s3x');
    const t = tree({ 'coarse.bin': crypto.randomBytes(11 * MIB) });
    const file = path.join(t, 'coarse.bin');
    // a filesystem whose timestamps have not ticked since the walk: every stat of this file
    // answers what the first one did, so size, mtime, ctime and inode all look unchanged
    const realStat = fs.promises.stat;
    let frozen: fs.Stats | undefined;
    const frozenStat = async (p: fs.PathLike, o?: fs.StatOptions): Promise<fs.Stats> => {
      if (String(p) !== file) return realStat(p, o) as Promise<fs.Stats>;
      frozen ??= await realStat(p) as fs.Stats;
      return frozen;
    };
    fs.promises.stat = frozenStat as typeof fs.promises.stat;
    // the walk stats synchronously (src/fs/walk.ts): the same frozen answer there
    const realStatSync = fs.statSync;
    const frozenStatSync = (p: fs.PathLike, o?: fs.StatSyncOptions): unknown => {
      if (String(p) !== file) return realStatSync(p, o);
      frozen ??= realStatSync(p) as fs.Stats;
      return frozen;
    };
    (fs as { statSync: unknown }).statSync = frozenStatSync;
    try {
      const p = await through({ match: /^PUT .*partNumber=2&/, delayMs: 1500 });
      const run = uploadLib({
        dir: t, bucket, prefix: 'coarse', endpointUrls: [p.url], region: env.region, concurrency: 1,
        credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
        multipartThresholdBytes: 5 * MIB, partSizeBytes: 5 * MIB,
      });
      const t0 = Date.now();
      while (p.stats().delayed === 0 && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, crypto.randomBytes(5 * MIB), 0, 5 * MIB, 0);
      fs.writeSync(fd, crypto.randomBytes(MIB), 0, MIB, 10 * MIB);
      fs.closeSync(fd);
      const summary = await run;
      expect(summary.failed.map((x) => x.error)).toEqual([expect.stringMatching(/coarse\.bin changed while it was being uploaded.*the stored object was removed/)]);
      expect(await keys('coarse/')).toEqual([]);
    } finally {
      fs.promises.stat = realStat;
      (fs as { statSync: unknown }).statSync = realStatSync;
    }
  });

  it('--verify that reads back other bytes removes the object (small and multipart)', async () => {
    const files = { 'v/small.txt': crypto.randomBytes(2000), 'v/multi.bin': crypto.randomBytes(11 * MIB) };
    const t = tree(files);
    await through({ match: new RegExp(`^GET /${bucket}/verify/`), corruptResponseEvery: 1 });
    const r = await upload(t, 'verify/', ['--verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Failed: 2 files/);
    expect(r.stdout).toMatch(/small\.txt: .*read back/);
    expect(await keys('verify/')).toEqual([]);
  });
  it('an object that fails its check and cannot be deleted is named loudly in the failure line', async () => {
    const t = tree({ 'stuck.txt': crypto.randomBytes(3000) });
    // the --verify read and the delete that follows are both refused (AccessDenied: no retries)
    await through({ match: new RegExp(`^(GET|DELETE) /${bucket}/stuck/`), failAfter: 0, failStatus: 403, failCode: 'AccessDenied' });
    const r = await upload(t, 'stuck/', ['--verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`THE STORED OBJECT s3://${bucket}/stuck/stuck.txt COULD NOT BE REMOVED (AccessDenied)`);
    expect(await keys('stuck/')).toEqual(['stuck/stuck.txt']);
  });
});

describe('multipart control calls (item 9)', () => {
  it('a CompleteMultipartUpload slower than the 500 ms floor is not cut: the object is stored, nothing fails', async () => {
    const files = { 'slow.bin': crypto.randomBytes(11 * MIB) };
    const t = tree(files);
    // the server completes it at once; its answer is held 900 ms
    await through({ match: /^POST .*uploadId=/, responseDelayMs: 900 });
    const r = await upload(t, 'slowcomplete/', ['--json']);
    const recs = records(r.stdout);
    expect(recs.at(-1)!.failed).toEqual([]);
    expect(r.code).toBe(0);
    expect(recs.find((x) => x.op === 'CompleteMultipartUpload')).toMatchObject({ ok: true, attempts: 1 });
    await expectExact('slowcomplete/', files);
  });

  it.each([
    ['NoSuchUpload (AWS)', 404, 'NoSuchUpload'],
    ['500 (RGW, unknown upload id)', 500, 'InternalError'],
  ])('a Complete cut by its deadline but done by the server, retried into %s, is resolved by HEAD (ETag = the composite)', async (_name, status, code) => {
    const files = { 'cut.bin': crypto.randomBytes(11 * MIB) };
    const t = tree(files);
    const prefix = `cutcomplete${status}/`;
    // the deadline is capped at 1 s: the server completes the upload at once, its answer is held
    // 1.5 s, so the attempt is cut; every retry is refused as an unknown upload
    await through({ match: /^POST .*uploadId=/, responseDelayMs: 1500, failAfter: 1, failStatus: status, failCode: code });
    const r = await upload(t, prefix, ['--json', '--max-deadline-ms', '1000']);
    const recs = records(r.stdout);
    expect(recs.at(-1)!.failed).toEqual([]);
    expect(r.code).toBe(0);
    const complete = recs.find((x) => x.op === 'CompleteMultipartUpload')!;
    expect(complete.ok).toBe(true);
    expect(complete.attempts).toBe(2);
    expect(recs.some((x) => x.op === 'AbortMultipartUpload')).toBe(false);
    await expectExact(prefix, files);
  });

  it('a CreateMultipartUpload cut by its deadline but done by the server leaves no open upload behind', async () => {
    const files = { 'orphan.bin': crypto.randomBytes(11 * MIB) };
    const t = tree(files);
    // the server opens an upload at once, its answer is held 1.5 s: the first attempt (1 s) is cut
    await through({ match: /^POST [^?]*\?uploads/, responseDelayMs: 1500 });
    const r = await upload(t, 'orphan/', ['--json', '--max-deadline-ms', '1000']);
    const recs = records(r.stdout);
    expect(recs.at(-1)!.failed).toEqual([]);
    expect(r.code).toBe(0);
    expect(recs.find((x) => x.op === 'CreateMultipartUpload')!.attempts).toBe(2);
    // the upload the cut attempt opened was found and aborted
    expect(recs.filter((x) => x.op === 'AbortMultipartUpload' && x.ok)).toHaveLength(1);
    await expectExact('orphan/', files);
    expect(await openUploads('orphan/')).toEqual([]);
  });

  it('a failed part: the abort is sent only after every in-flight part of that upload has settled', async () => {
    const t = tree({ 'abort.bin': crypto.randomBytes(15 * MIB) });
    // 3 parts in parallel, each ~2 s at 2.5 MB/s; the 2nd to arrive is reset half-way (~1 s), no retries
    await through({ match: /^PUT .*partNumber=/, resetEvery: 2, throttleBytesPerSecPerConn: 2.5e6 });
    const r = await upload(t, 'abortwait/', ['--json', '--retries', '0', '-c', '4']);
    expect(r.code).toBe(1);
    const recs = records(r.stdout).filter((x) => x.type === 'request');
    const abortAt = recs.findIndex((x) => x.op === 'AbortMultipartUpload');
    expect(abortAt).toBeGreaterThan(0);
    expect(recs[abortAt]!.ok).toBe(true);
    const partsAt = recs.map((x, i) => (x.op === 'UploadPart' ? i : -1)).filter((i) => i >= 0);
    expect(partsAt).toHaveLength(3);
    for (const i of partsAt) expect(i).toBeLessThan(abortAt);
    expect(await openUploads('abortwait/')).toEqual([]);
    expect(await keys('abortwait/')).toEqual([]);
  });
});
