/**
 * `s3x sync s3://bucket/prefix ./dir`: the local directory brought up to date. New and changed
 * objects are downloaded (size + LastModified vs mtime, --exact-timestamps, --size-only,
 * --checksum), a second run transfers nothing, --dry-run touches nothing, and --delete removes
 * exactly the selected local files with no object — never after a failure, never a directory,
 * a symlink or what it points to, never an excluded file, never when the prefix is empty.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy } from '../support/fault-proxy.js';
import { BIN, makeBucket, runCli, type S3TestEnv } from '../support/s3.js';
import { putObjects } from '../support/seed.js';

const env: S3TestEnv = inject('s3');
const ep = ['--endpoint-url', env.endpoints[0]!];
const MIB = 1024 * 1024;
const md5 = (b: Buffer | string): string => crypto.createHash('md5').update(b).digest('hex');

let bucket: string;
let drop: () => Promise<void>;
const temps: string[] = [];
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'syncdown')); });
afterAll(async () => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
  await drop?.();
});

function scratch(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-syncdown-'));
  temps.push(d);
  return d;
}
type Rec = Record<string, unknown> & { type: string; op?: string; plan?: Record<string, number>; deleted?: number; files?: number; key?: string; path?: string };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
const gets = (recs: Rec[]): number => recs.filter((r) => r.type === 'request' && r.op === 'GetObject').length;
const summaryOf = (stdout: string): Rec => records(stdout).at(-1)!;
/** every regular file under `dir`, relative path → content */
function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out[path.relative(dir, p).split(path.sep).join('/')] = fs.readFileSync(p, 'utf8');
  }
  return out;
}
/** sets a file's mtime `deltaSec` seconds from now */
function touch(p: string, deltaSec: number): void {
  const t = new Date(Date.now() + deltaSec * 1000);
  fs.utimesSync(p, t, t);
}

describe('s3x sync s3://… <dir>', () => {
  it('downloads new objects into a missing directory; a second run transfers nothing', async () => {
    await putObjects(env, bucket, [['a/x.txt', 'x1'], ['a/sub/y.txt', 'y1'], ['a/z.bin', 'zz'], ['a-beside/n.txt', 'no']]);
    const dir = path.join(scratch(), 'made');
    const first = await runCli(env, ['sync', `s3://${bucket}/a`, dir, ...ep, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(summaryOf(first.stdout).plan).toEqual({ new: 3, changed: 0, unchanged: 0, localOnly: 0 });
    expect(readTree(dir)).toEqual({ 'x.txt': 'x1', 'sub/y.txt': 'y1', 'z.bin': 'zz' });
    const second = await runCli(env, ['sync', `s3://${bucket}/a`, dir, ...ep, '--json']);
    expect(second.code).toBe(0);
    expect(gets(records(second.stdout))).toBe(0);
    expect(summaryOf(second.stdout).plan).toEqual({ new: 0, changed: 0, unchanged: 3, localOnly: 0 });
    // the text summary gives the plan like the upload direction
    const text = await runCli(env, ['sync', `s3://${bucket}/a`, dir, ...ep]);
    expect(text.stdout).toContain('Plan: 0 new, 0 changed, 3 unchanged, 0 to delete');
  });

  it('changed by size or by a newer LastModified; --exact-timestamps also an older one; --size-only neither', async () => {
    await putObjects(env, bucket, [['b/same.txt', 'aaaa'], ['b/size.txt', 'new content'], ['b/old.txt', 'cccc']]);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'same.txt'), 'AAAA');
    fs.writeFileSync(path.join(dir, 'size.txt'), 'old');
    fs.writeFileSync(path.join(dir, 'old.txt'), 'CCCC');
    touch(path.join(dir, 'same.txt'), -3600); // older than the object: changed
    touch(path.join(dir, 'old.txt'), 3600); // newer than the object: unchanged by default

    const sizeOnly = await runCli(env, ['sync', `s3://${bucket}/b`, dir, ...ep, '--size-only', '--json']);
    expect(sizeOnly.code).toBe(0);
    expect(summaryOf(sizeOnly.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 2, localOnly: 0 });
    expect(readTree(dir)).toEqual({ 'same.txt': 'AAAA', 'size.txt': 'new content', 'old.txt': 'CCCC' });

    const byTime = await runCli(env, ['sync', `s3://${bucket}/b`, dir, ...ep, '--json']);
    expect(summaryOf(byTime.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 2, localOnly: 0 });
    expect(readTree(dir)).toEqual({ 'same.txt': 'aaaa', 'size.txt': 'new content', 'old.txt': 'CCCC' });

    const exact = await runCli(env, ['sync', `s3://${bucket}/b`, dir, ...ep, '--exact-timestamps', '--json']);
    expect(summaryOf(exact.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 2, localOnly: 0 });
    expect(readTree(dir)).toEqual({ 'same.txt': 'aaaa', 'size.txt': 'new content', 'old.txt': 'cccc' });
    const again = await runCli(env, ['sync', `s3://${bucket}/b`, dir, ...ep, '--exact-timestamps', '--json']);
    expect(summaryOf(again.stdout).plan).toEqual({ new: 0, changed: 0, unchanged: 3, localOnly: 0 });
  });

  it('--checksum: same size and mtime but other bytes is changed; equal bytes are unchanged whatever the mtime', async () => {
    await putObjects(env, bucket, [['c/one.txt', 'same'], ['c/two.txt', 'abcd']]);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'one.txt'), 'same');
    fs.writeFileSync(path.join(dir, 'two.txt'), 'ABCD');
    touch(path.join(dir, 'one.txt'), -7200);
    touch(path.join(dir, 'two.txt'), 7200);
    const r = await runCli(env, ['sync', `s3://${bucket}/c`, dir, ...ep, '--checksum', '--json']);
    expect(r.code).toBe(0);
    expect(summaryOf(r.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 1, localOnly: 0 });
    expect(gets(records(r.stdout))).toBe(1);
    expect(md5(fs.readFileSync(path.join(dir, 'two.txt')))).toBe(md5('abcd'));
    // by time, one.txt (older than its object) is changed: fetched once, its mtime then the object's
    const byTime = await runCli(env, ['sync', `s3://${bucket}/c`, dir, ...ep, '--json']);
    expect(summaryOf(byTime.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 1, localOnly: 0 });
    for (const mode of [[], ['--checksum'], ['--size-only'], ['--exact-timestamps']]) {
      const again = await runCli(env, ['sync', `s3://${bucket}/c`, dir, ...ep, ...mode, '--json']);
      expect(again.code).toBe(0);
      expect(gets(records(again.stdout)), mode.join()).toBe(0);
      expect(summaryOf(again.stdout).plan, mode.join()).toEqual({ new: 0, changed: 0, unchanged: 2, localOnly: 0 });
    }
  });

  it('--dry-run lists the plan and touches nothing (no directory made, no file written or deleted)', async () => {
    await putObjects(env, bucket, [['d/new.txt', 'n'], ['d/chg.txt', 'changed!']]);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'chg.txt'), 'old');
    fs.writeFileSync(path.join(dir, 'gone.txt'), 'local only');
    const before = readTree(dir);
    const r = await runCli(env, ['sync', `s3://${bucket}/d`, dir, ...ep, '--dry-run', '--delete']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would download (new) s3://');
    expect(r.stdout).toContain('would delete ');
    expect(r.stdout).toContain('Plan: 1 new, 1 changed, 0 unchanged, 1 to delete');
    expect(readTree(dir)).toEqual(before);
    const json = await runCli(env, ['sync', `s3://${bucket}/d`, dir, ...ep, '--dry-run', '--delete', '--json']);
    expect(json.code).toBe(0);
    const recs = records(json.stdout);
    expect(recs.filter((x) => x.type === 'plan').map((x) => [x.path, x.status]).sort()).toEqual([['chg.txt', 'changed'], ['new.txt', 'new']]);
    expect(recs.filter((x) => x.type === 'plan-delete').map((x) => x.path)).toEqual(['gone.txt']);
    expect(gets(recs)).toBe(0);
    expect(summaryOf(json.stdout)).toMatchObject({ dryRun: true, deleted: 1, plan: { new: 1, changed: 1, unchanged: 0, localOnly: 1 } });
    expect(readTree(dir)).toEqual(before);
    const missing = path.join(scratch(), 'not-there');
    const m = await runCli(env, ['sync', `s3://${bucket}/d`, missing, ...ep, '--dry-run']);
    expect(m.code).toBe(0);
    expect(fs.existsSync(missing)).toBe(false);
  });

  it('--delete removes local files with no object, keeps excluded ones, directories and symlinks (and their targets)', async () => {
    await putObjects(env, bucket, [['e/keep.txt', 'k'], ['e/sub/keep2.txt', 'k2']]);
    const dir = scratch();
    const outside = scratch();
    fs.writeFileSync(path.join(outside, 'target.txt'), 'must survive');
    fs.mkdirSync(path.join(dir, 'sub/empty'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'stale.txt'), 's');
    fs.writeFileSync(path.join(dir, 'sub/stale2.txt'), 's2');
    fs.writeFileSync(path.join(dir, 'note.log'), 'excluded');
    fs.writeFileSync(path.join(dir, 'keep.txt.s3x-tmp-0a1b2c3d7'), 'a killed run\'s temporary file');
    fs.symlinkSync(path.join(outside, 'target.txt'), path.join(dir, 'link.txt'));
    fs.symlinkSync(outside, path.join(dir, 'linkdir'));
    const r = await runCli(env, ['sync', `s3://${bucket}/e`, dir, ...ep, '--delete', '--exclude', '*.log', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = summaryOf(r.stdout);
    expect(s.plan).toEqual({ new: 2, changed: 0, unchanged: 0, localOnly: 2 });
    expect(s.deleted).toBe(2);
    expect(readTree(dir)).toEqual({ 'keep.txt': 'k', 'sub/keep2.txt': 'k2', 'note.log': 'excluded', 'keep.txt.s3x-tmp-0a1b2c3d7': 'a killed run\'s temporary file' });
    expect(fs.lstatSync(path.join(dir, 'link.txt')).isSymbolicLink()).toBe(true);
    expect(fs.lstatSync(path.join(dir, 'linkdir')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(path.join(dir, 'sub/empty')).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(outside, 'target.txt'), 'utf8')).toBe('must survive');
  });

  it('--delete deletes nothing when a download failed (exit 1)', async () => {
    // "f/bad//name" cannot be a local path: refused, a failure of the run
    await putObjects(env, bucket, [['f/ok.txt', 'ok'], ['f/bad//name', 'x']]);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'kept');
    const r = await runCli(env, ['sync', `s3://${bucket}/f`, dir, ...ep, '--delete']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Not deleted: 1 local-only file kept/);
    expect(readTree(dir)).toEqual({ 'ok.txt': 'ok', 'stale.txt': 'kept' });
  });

  it('--delete refuses to empty the directory when no object is under the prefix, unless --delete-all', async () => {
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'precious.txt'), 'p');
    const r = await runCli(env, ['sync', `s3://${bucket}/nothing-here`, dir, ...ep, '--delete']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no object under s3:\/\/.*nothing-here\/.*--delete-all/);
    expect(readTree(dir)).toEqual({ 'precious.txt': 'p' });
    const all = await runCli(env, ['sync', `s3://${bucket}/nothing-here`, dir, ...ep, '--delete-all']);
    expect(all.code).toBe(0);
    expect(readTree(dir)).toEqual({});
  });

  it('--delete under an unreadable subdirectory: the delete step is refused, with a line saying why', async () => {
    await putObjects(env, bucket, [['g/ok.txt', 'ok']]);
    const dir = scratch();
    fs.chmodSync(dir, 0o777);
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'kept');
    fs.chmodSync(path.join(dir, 'stale.txt'), 0o666);
    fs.mkdirSync(path.join(dir, 'locked'));
    fs.writeFileSync(path.join(dir, 'locked/inside.txt'), 'i');
    fs.chmodSync(path.join(dir, 'locked'), 0o000);
    temps.push(dir); // removed after chmod back below
    // root reads every directory: run as nobody so that chmod 000 bites
    const asUser = process.getuid?.() === 0 ? { uid: 65534 } : {};
    try {
      const r = await runCli(env, ['sync', `s3://${bucket}/g`, dir, ...ep, '--delete'], asUser);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/Not deleted: 1 local-only file kept: .*could not be read/);
    } finally {
      fs.chmodSync(path.join(dir, 'locked'), 0o755);
    }
    expect(fs.readFileSync(path.join(dir, 'stale.txt'), 'utf8')).toBe('kept');
  });

  it('--delete deletes nothing when GETs fail at the server (retries exhausted: exit 1), then a clean re-run does', async () => {
    await putObjects(env, bucket, [['h/one.txt', '1'], ['h/two.txt', '2']]);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'kept');
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^GET \/[^/]+\/h\/two\.txt/, failAfter: 0 } });
    try {
      const r = await runCli(env, ['sync', `s3://${bucket}/h`, dir, '--endpoint-url', proxy.url, '--retries', '1', '--delete']);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/Not deleted: 1 local-only file kept: some downloads failed/);
      expect(readTree(dir)).toEqual({ 'one.txt': '1', 'stale.txt': 'kept' });
    } finally {
      await proxy.close();
    }
    const again = await runCli(env, ['sync', `s3://${bucket}/h`, dir, ...ep, '--delete', '--json']);
    expect(again.code).toBe(0);
    expect(summaryOf(again.stdout).plan).toEqual({ new: 1, changed: 0, unchanged: 1, localOnly: 1 });
    expect(readTree(dir)).toEqual({ 'one.txt': '1', 'two.txt': '2' });
  });

  it('a listing that fails: exit 2, nothing written or deleted', async () => {
    await putObjects(env, bucket, [['i/new.txt', 'n']]);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'kept');
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /list-type=2/, failAfter: 0, failCode: 'AccessDenied', failStatus: 403 } });
    try {
      const r = await runCli(env, ['sync', `s3://${bucket}/i`, dir, '--endpoint-url', proxy.url, '--retries', '0', '--delete-all']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot list|listing/);
    } finally {
      await proxy.close();
    }
    expect(readTree(dir)).toEqual({ 'stale.txt': 'kept' });
  });

  it('--checksum on a multipart object (composite ETag): equal bytes unchanged, one byte off changed and fetched as ranged GETs', async () => {
    const big = Buffer.alloc(11 * MIB, 7);
    const up = scratch();
    fs.writeFileSync(path.join(up, 'big.bin'), big);
    const u = await runCli(env, ['upload', up, bucket, 'j', ...ep, '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(u.code, u.stderr).toBe(0);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'big.bin'), big);
    touch(path.join(dir, 'big.bin'), -7200); // older: by mtime it would be changed
    // the composite ETag is recomputed with --part-size, as the upload direction does
    const same = await runCli(env, ['sync', `s3://${bucket}/j`, dir, ...ep, '--checksum', '--part-size', '5MiB', '--json']);
    expect(same.code).toBe(0);
    expect(summaryOf(same.stdout).plan).toEqual({ new: 0, changed: 0, unchanged: 1, localOnly: 0 });
    const off = Buffer.from(big);
    off[6 * MIB] = 8;
    fs.writeFileSync(path.join(dir, 'big.bin'), off);
    const changed = await runCli(env, ['sync', `s3://${bucket}/j`, dir, ...ep, '--checksum', '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json']);
    expect(changed.code).toBe(0);
    expect(summaryOf(changed.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 0, localOnly: 0 });
    expect(gets(records(changed.stdout))).toBe(3);
    expect(md5(fs.readFileSync(path.join(dir, 'big.bin')))).toBe(md5(big));
  });

  it('upload direction: --size-only sends a same-size file with a newer mtime not again', async () => {
    const up = scratch();
    fs.writeFileSync(path.join(up, 'f.txt'), 'abcd');
    expect((await runCli(env, ['sync', up, `s3://${bucket}/k`, ...ep])).code).toBe(0);
    fs.writeFileSync(path.join(up, 'f.txt'), 'ABCD');
    touch(path.join(up, 'f.txt'), 3600);
    const r = await runCli(env, ['sync', up, `s3://${bucket}/k`, ...ep, '--size-only', '--json']);
    expect(r.code).toBe(0);
    expect(summaryOf(r.stdout).plan).toEqual({ new: 0, changed: 0, unchanged: 1, remoteOnly: 0 });
    const byTime = await runCli(env, ['sync', up, `s3://${bucket}/k`, ...ep, '--json']);
    expect(summaryOf(byTime.stdout).plan).toEqual({ new: 0, changed: 1, unchanged: 0, remoteOnly: 0 });
  });

  it('--shard k/n: the shards partition the objects; --delete in one shard deletes only its own local-only files', async () => {
    const objects: Array<[string, string]> = Array.from({ length: 12 }, (_, i) => [`l/o${i}.txt`, `o${i}`]);
    await putObjects(env, bucket, objects);
    const dir = scratch();
    for (let i = 0; i < 12; i++) fs.writeFileSync(path.join(dir, `gone${i}.txt`), 'g');
    const one = await runCli(env, ['sync', `s3://${bucket}/l`, dir, ...ep, '--shard', '1/2', '--delete', '--json']);
    expect(one.code).toBe(0);
    const s1 = summaryOf(one.stdout);
    const afterOne = readTree(dir);
    const gotOne = Object.keys(afterOne).filter((k) => k.startsWith('o'));
    const goneLeft = Object.keys(afterOne).filter((k) => k.startsWith('gone'));
    expect(gotOne.length).toBe(s1.plan!.new);
    expect(goneLeft.length).toBe(12 - s1.deleted!);
    expect(gotOne.length).toBeGreaterThan(0);
    expect(gotOne.length).toBeLessThan(12);
    const two = await runCli(env, ['sync', `s3://${bucket}/l`, dir, ...ep, '--shard', '2/2', '--delete', '--json']);
    expect(two.code).toBe(0);
    expect(summaryOf(two.stdout).plan).toEqual({ new: 12 - gotOne.length, changed: 0, unchanged: 0, localOnly: goneLeft.length });
    expect(readTree(dir)).toEqual(Object.fromEntries(objects.map(([k, v]) => [k.slice(2), v])));
  });

  it('SIGINT mid-run: 130, nothing deleted, no temporary or partial file; a re-run completes', async () => {
    const objects: Array<[string, string]> = Array.from({ length: 20 }, (_, i) => [`m/o${i}.txt`, `object ${i}`]);
    await putObjects(env, bucket, objects);
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'kept');
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^GET \/[^/]+\/m\/o/, delayMs: 300 } });
    let out = '';
    let sent = false;
    try {
      const child = spawn(process.execPath, [BIN, 'sync', `s3://${bucket}/m`, dir, '--endpoint-url', proxy.url, '-c', '2', '--delete', '--json'], {
        env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const code = await new Promise<number | null>((resolve) => {
        const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (!sent && out.includes('"op":"GetObject"')) { sent = true; child.kill('SIGINT'); }
        });
        child.on('close', (c) => { clearTimeout(killer); resolve(c); });
      });
      expect(sent).toBe(true);
      expect(code).toBe(130);
    } finally {
      await proxy.close();
    }
    expect(summaryOf(out)).toMatchObject({ type: 'summary', interrupted: true, deleted: 0 });
    const after = readTree(dir);
    expect(after['stale.txt']).toBe('kept');
    for (const [rel, content] of Object.entries(after)) if (rel !== 'stale.txt') expect(content, rel).toBe(`object ${rel.slice(1, -4)}`);
    expect(Object.keys(after).length).toBeLessThan(21);
    const again = await runCli(env, ['sync', `s3://${bucket}/m`, dir, ...ep, '--delete']);
    expect(again.code).toBe(0);
    expect(readTree(dir)).toEqual(Object.fromEntries(objects.map(([k, v]) => [k.slice(2), v])));
  });

  it('--delete in fallback mode over several stores is refused (a store that fails is left out of the listing): exit 2, nothing touched', async () => {
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'stale.txt'), 'kept');
    const r = await runCli(env, ['sync', `s3://${bucket}/a`, dir, '--endpoint-url', env.endpoints[0]!, '--endpoint-url', env.endpoints[1]!, '--mode', 'fallback', '--delete']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--mode fallback: sync s3:\/\/… <dir> --delete is refused/);
    expect(readTree(dir)).toEqual({ 'stale.txt': 'kept' });
  });

  it('a missing bucket: exit 2 and no directory made', async () => {
    const dir = path.join(scratch(), 'not-made', 'deeper');
    const r = await runCli(env, ['sync', 's3://no-such-bucket-s3x/a', dir, ...ep]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bucket 'no-such-bucket-s3x' does not exist/);
    expect(fs.existsSync(path.dirname(dir))).toBe(false);
  });

  it('two s3:// URLs or two local paths: one line, exit 2', async () => {
    const both = await runCli(env, ['sync', `s3://${bucket}/a`, `s3://${bucket}/b`, ...ep]);
    expect(both.code).toBe(2);
    expect(both.stderr.trim().split('\n')).toHaveLength(1);
    expect(both.stderr).toMatch(/not between two s3:\/\/ URLs/);
    const local = await runCli(env, ['sync', './a', './b', ...ep]);
    expect(local.code).toBe(2);
    expect(local.stderr.trim().split('\n')).toHaveLength(1);
    expect(local.stderr).toMatch(/'\.\/a' and '\.\/b' are both local paths/);
    const flags = await runCli(env, ['sync', `s3://${bucket}/a`, scratch(), '--size-only', '--checksum', ...ep]);
    expect(flags.code).toBe(2);
    expect(flags.stderr).toMatch(/--checksum and --size-only contradict each other/);
    // uploading, LastModified is the upload time: --exact-timestamps means nothing there
    const up = await runCli(env, ['sync', scratch(), `s3://${bucket}/up`, '--exact-timestamps', ...ep]);
    expect(up.code).toBe(2);
    expect(up.stderr).toMatch(/--exact-timestamps is for the download direction/);
    // upload-only flags are refused downloading, not ignored
    for (const [flag, message] of [['--verify', /--verify is for the upload direction/], ['--no-resume', /--no-resume is for the upload direction/], ['--cache-control=no-cache', /object header flags .* are for the upload direction/]] as const) {
      const down = await runCli(env, ['sync', `s3://${bucket}/a`, scratch(), flag, ...ep]);
      expect(down.code, flag).toBe(2);
      expect(down.stderr, flag).toMatch(message);
    }
  });
});
