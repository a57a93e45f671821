/**
 * CI artifact sync: only what changed goes, --delete removes what went (and nothing when
 * anything failed), a file changed mid-upload is caught, cancel + re-run completes the set,
 * shards partition the tree, and stale multipart uploads can be cleaned up.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { BIN, client, listAll, makeBucket, makeTree, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const ep = ['--endpoint-url', env.endpoints[0]!];
const MIB = 1024 * 1024;
const md5 = (b: Buffer | string): string => crypto.createHash('md5').update(b).digest('hex');

let bucket: string;
let drop: () => Promise<void>;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'sync')); });
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await drop?.();
});
function tree(files: Record<string, string | Buffer>): string {
  const t = makeTree(files);
  cleanups.push(() => fs.rmSync(t, { recursive: true, force: true }));
  return t;
}
type Rec = Record<string, unknown> & { type: string; op?: string; plan?: Record<string, number>; deleted?: number; files?: number; failed?: Array<{ path: string; error: string }> };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
const puts = (recs: Rec[]): number => recs.filter((r) => r.op === 'PutObject' || r.op === 'UploadPart').length;

describe('s3x sync', () => {
  it('second run sends nothing; one change sends one PUT; --delete removes exactly the deleted file', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`out/${i % 4}/f${i}.txt`] = `artifact ${i}`;
    const t = tree(files);
    const sibling = tree({ 'x.txt': 'beside' });
    // an object beside the prefix must survive --delete
    expect((await runCli(env, ['upload', sibling, bucket, 'ci-other', ...ep])).code).toBe(0);

    const first = await runCli(env, ['sync', t, `s3://${bucket}/ci`, ...ep, '--json']);
    expect(first.code).toBe(0);
    expect(records(first.stdout).at(-1)!.plan).toEqual({ new: 40, changed: 0, unchanged: 0, remoteOnly: 0 });

    const second = await runCli(env, ['sync', t, `s3://${bucket}/ci`, ...ep, '--json']);
    expect(second.code).toBe(0);
    const r2 = records(second.stdout);
    expect(puts(r2)).toBe(0);
    expect(r2.filter((r) => r.type === 'request').map((r) => r.op)).toEqual(['ListObjectsV2']); // the listing only
    expect(r2.at(-1)!.plan).toEqual({ new: 0, changed: 0, unchanged: 40, remoteOnly: 0 });

    // modify one (same size, newer mtime), delete another
    const changed = path.join(t, 'out/1/f1.txt');
    fs.writeFileSync(changed, 'ARTIFACT 1');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(changed, later, later);
    fs.rmSync(path.join(t, 'out/2/f2.txt'));
    const dry = await runCli(env, ['sync', t, bucket, 'ci', ...ep, '--delete', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would upload (changed) out/1/f1.txt');
    expect(dry.stdout).toContain(`would delete s3://${bucket}/ci/out/2/f2.txt`);
    expect(dry.stdout).toContain('Plan: 0 new, 1 changed, 38 unchanged, 1 to delete');
    expect((await listAll(env, bucket, 'ci/')).length).toBe(40); // the dry run changed nothing

    const third = await runCli(env, ['sync', t, `s3://${bucket}/ci/`, ...ep, '--delete', '--json']);
    expect(third.code).toBe(0);
    const r3 = records(third.stdout);
    expect(puts(r3)).toBe(1);
    expect(r3.at(-1)).toMatchObject({ plan: { new: 0, changed: 1, unchanged: 38, remoteOnly: 1 }, deleted: 1 });
    const keys = (await listAll(env, bucket, 'ci')).map((o) => o.Key).sort();
    expect(keys).toEqual([...Object.keys(files).filter((k) => k !== 'out/2/f2.txt').map((k) => `ci/${k}`), 'ci-other/x.txt'].sort());
    expect(await objectMd5(env, bucket, 'ci/out/1/f1.txt')).toBe(md5('ARTIFACT 1'));
  });

  it('--checksum ignores new mtimes on identical content (CI rebuilds) and catches same-size edits', async () => {
    const t = tree({ 'a.txt': 'alpha', 'b.txt': 'bravo', 'big.bin': crypto.randomBytes(6 * MIB) });
    expect((await runCli(env, ['sync', t, bucket, 'sum', ...ep, '--multipart-threshold', '5MiB', '--part-size', '5MiB'])).code).toBe(0);
    const later = new Date(Date.now() + 10_000);
    for (const f of ['a.txt', 'b.txt', 'big.bin']) fs.utimesSync(path.join(t, f), later, later);
    fs.writeFileSync(path.join(t, 'b.txt'), 'BRAVO');
    const r = await runCli(env, ['sync', t, bucket, 'sum', ...ep, '--checksum', '--json', '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(r.code).toBe(0);
    expect(records(r.stdout).at(-1)!.plan).toEqual({ new: 0, changed: 1, unchanged: 2, remoteOnly: 0 });
    expect(await objectMd5(env, bucket, 'sum/b.txt')).toBe(md5('BRAVO'));
  });

  it('a failure during sync --delete deletes nothing and exits 1', async () => {
    const t = tree({ 'keep.txt': 'k', 'new1.txt': 'n1', 'new2.txt': 'n2' });
    const old = tree({ 'gone.txt': 'old' });
    expect((await runCli(env, ['upload', old, bucket, 'fail', ...ep])).code).toBe(0);
    const proxy: FaultProxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^PUT \/[^/]+\/fail\/new2\.txt/, resetEvery: 1 } });
    cleanups.push(() => proxy.close());
    const r = await runCli(env, ['sync', t, bucket, 'fail', '--endpoint-url', proxy.url, '--delete', '--retries', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/new2\.txt: PutObject fail\/new2\.txt/);
    expect(r.stdout).toMatch(/Not deleted: 1 remote-only objects kept: the upload did not complete/);
    expect((await listAll(env, bucket, 'fail/')).map((o) => o.Key).sort()).toEqual(['fail/gone.txt', 'fail/keep.txt', 'fail/new1.txt']);
  });

  it('a file rewritten while it is being uploaded is reported, never stored half old half new', async () => {
    const before = crypto.randomBytes(2 * MIB);
    const after = crypto.randomBytes(2 * MIB);
    const t = tree({ 'moving.bin': before, 'still.txt': 'still' });
    // 2 MiB at 512 KiB/s: ~4 s on the wire, time to rewrite it underneath
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /moving\.bin/, throttleBytesPerSecPerConn: 512 * 1024 } });
    cleanups.push(() => proxy.close());
    const done = runCli(env, ['upload', t, bucket, 'moving', '--endpoint-url', proxy.url, '--retries', '1', '--min-deadline-ms', '30000']);
    await new Promise((r) => setTimeout(r, 1200));
    fs.writeFileSync(path.join(t, 'moving.bin'), after);
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/moving\.bin: .*(FileChanged|changed while it was being uploaded|BadDigest)/);
    const stored = await listAll(env, bucket, 'moving/moving.bin');
    if (stored.length > 0) {
      // if anything was stored it is one whole version, never a mix
      expect([md5(before), md5(after)]).toContain(await objectMd5(env, bucket, 'moving/moving.bin'));
    }
  });
});

describe('cancel and resume', () => {
  it('SIGINT with several multipart uploads open: 130, none left open; --skip-existing completes the set', async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 4; i++) files[`big${i}.bin`] = crypto.randomBytes(15 * MIB);
    for (let i = 0; i < 30; i++) files[`small/${i}.txt`] = Buffer.from(`s${i}`);
    const t = tree(files);
    const args = ['upload', t, bucket, 'resume', ...ep, '-c', '4', '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json'];
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    const code = await new Promise<number | null>((resolve) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // several uploads are open once parts of two different files have landed
        const parted = new Set([...out.matchAll(/"op":"UploadPart","key":"([^"]+)"/g)].map((m) => m[1]));
        if (!sent && parted.size >= 2) { sent = true; child.kill('SIGINT'); }
      });
      child.on('close', (c) => { clearTimeout(killer); resolve(c); });
    });
    expect(sent).toBe(true);
    expect(code).toBe(130);
    expect(records(out).at(-1)).toMatchObject({ type: 'summary', interrupted: true });
    const s3 = client(env);
    try {
      expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'resume/' }))).Uploads ?? []).toEqual([]);
    } finally {
      s3.destroy();
    }
    const before = (await listAll(env, bucket, 'resume/')).length;
    expect(before).toBeLessThan(34);

    const rerun = await runCli(env, [...args.slice(0, -1), '--skip-existing', '--json']);
    expect(rerun.code).toBe(0);
    const summary = records(rerun.stdout).at(-1)!;
    expect(summary.plan!.unchanged).toBe(before);
    expect(summary.files).toBe(34 - before);
    const listed = await listAll(env, bucket, 'resume/');
    expect(listed).toHaveLength(34);
    for (const [rel, content] of Object.entries(files)) expect(await objectMd5(env, bucket, `resume/${rel}`), rel).toBe(md5(content));
  });

  it('cleanup-multipart aborts stale uploads under the prefix only', async () => {
    const s3 = client(env);
    try {
      const a = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'stale/a.bin' }));
      const b = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'elsewhere/b.bin' }));
      const kept = await runCli(env, ['cleanup-multipart', bucket, 'stale/', ...ep, '--older-than', '1h']);
      expect(kept.code).toBe(0);
      expect(kept.stdout).toMatch(/: 1; aborted 0; kept \(younger than 1h\) 1/);
      const dry = await runCli(env, ['cleanup-multipart', bucket, 'stale/', ...ep, '--older-than', '0s', '--dry-run']);
      expect(dry.stdout).toContain(`would abort stale/a.bin (upload ${a.UploadId}`);
      const r = await runCli(env, ['cleanup-multipart', bucket, 'stale/', ...ep, '--older-than', '0s']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`aborted stale/a.bin (upload ${a.UploadId}`);
      const open = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      expect(open.map((u) => u.UploadId)).toEqual([b.UploadId]);
      expect((await runCli(env, ['cleanup-multipart', bucket, '', ...ep, '--older-than', '0s'])).code).toBe(0);
    } finally {
      s3.destroy();
    }
  });
});

describe('--shard k/n', () => {
  it('shards 1/3, 2/3, 3/3 are disjoint and together the whole tree; report merge adds them up', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 90; i++) files[`s/${i % 9}/${i}.txt`] = `shard ${i}`;
    const t = tree(files);
    const outs: string[] = [];
    const seen: string[][] = [];
    for (let k = 1; k <= 3; k++) {
      const r = await runCli(env, ['sync', t, `s3://${bucket}/shards`, ...ep, '--shard', `${k}/3`, '--json']);
      expect(r.code).toBe(0);
      const keys = records(r.stdout).filter((x) => x.op === 'PutObject').map((x) => String(x.key));
      expect(keys.length).toBeGreaterThan(10); // a real split, not all in one
      seen.push(keys);
      const f = path.join(os.tmpdir(), `s3x-shard-${k}-${process.pid}.ndjson`);
      fs.writeFileSync(f, r.stdout);
      cleanups.push(() => fs.rmSync(f, { force: true }));
      outs.push(f);
    }
    const all = seen.flat();
    expect(new Set(all).size).toBe(all.length); // disjoint
    expect(all.sort()).toEqual(Object.keys(files).map((k) => `shards/${k}`).sort()); // union = tree
    const merged = await runCli(env, ['report', 'merge', ...outs, '--json']);
    expect(merged.code).toBe(0);
    expect(JSON.parse(merged.stdout)).toMatchObject({ shards: 3, files: 90, failed: [] });
    // a shard re-run with --delete deletes nothing of the other shards
    const again = await runCli(env, ['sync', t, `s3://${bucket}/shards`, ...ep, '--shard', '2/3', '--delete', '--json']);
    expect(records(again.stdout).at(-1)).toMatchObject({ plan: { new: 0, changed: 0, remoteOnly: 0 }, deleted: 0 });
    expect((await listAll(env, bucket, 'shards/')).length).toBe(90);
  });
});
