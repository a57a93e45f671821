/**
 * `sync --delete` never deletes what the user excluded (one pattern, one meaning on both
 * sides), nothing under a path the walk could not read (skipped or broken symlinks, an
 * unreadable directory), and refuses to empty a prefix or a bucket root without --delete-all.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { client, listAll, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const ep = ['--endpoint-url', env.endpoints[0]!];
/** as root, run the CLI as 'nobody' so that chmod 000 bites (a non-root owner is refused anyway) */
const AS_USER = process.getuid?.() === 0 ? { uid: 65534 } : {};

let bucket: string;
let drop: () => Promise<void>;
const cleanups: Array<() => unknown> = [];
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'syncsafe')); });
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await drop?.();
});

function tree(files: Record<string, string>): string {
  const t = makeTree(files);
  cleanups.push(() => fs.rmSync(t, { recursive: true, force: true }));
  return t;
}

async function seed(b: string, keys: readonly string[]): Promise<void> {
  const s3 = client(env);
  try {
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: b, Key, Body: `remote ${Key}` }))));
  } finally {
    s3.destroy();
  }
}

const keysUnder = async (b: string, prefix: string): Promise<string[]> =>
  (await listAll(env, b, prefix)).map((o) => o.Key!.slice(prefix.length)).sort();

interface PatternCase {
  name: string;
  include?: string[];
  exclude?: string[];
  local: string[];
  /** remote objects before the sync (relative to the prefix) */
  remote: string[];
  /** remote-only objects the rules exclude: must survive */
  kept: string[];
}

// Each expectation is written out by hand (the oracle is not the matcher under test).
const CASES: PatternCase[] = [
  { name: 'bare name file', exclude: ['secret.txt'], local: ['a.txt'], remote: ['secret.txt', 'd/secret.txt', 'gone.txt'], kept: ['secret.txt', 'd/secret.txt'] },
  { name: 'bare name dir', exclude: ['uploads'], local: ['index.html'], remote: ['uploads/a.jpg', 'x/uploads/b.jpg', 'old.html'], kept: ['uploads/a.jpg', 'x/uploads/b.jpg'] },
  { name: 'dir/', exclude: ['node_modules/'], local: ['app.js'], remote: ['node_modules/m/index.js', 'node_modules/n.js', 'src/node_modules/o.js', 'stale.js'], kept: ['node_modules/m/index.js', 'node_modules/n.js', 'src/node_modules/o.js'] },
  { name: 'dir/**', exclude: ['cache/**'], local: ['app.js'], remote: ['cache/a', 'cache/b/c', 'cachex/d'], kept: ['cache/a', 'cache/b/c'] },
  { name: '*.{tmp,log}', exclude: ['*.{tmp,log}'], local: ['a.txt'], remote: ['x.tmp', 'd/y.log', 'd/z.txt'], kept: ['x.tmp', 'd/y.log'] },
  { name: '[ab].txt', exclude: ['[ab].txt'], local: ['keep.md'], remote: ['a.txt', 'b.txt', 'c.txt', 'd/a.txt'], kept: ['a.txt', 'b.txt', 'd/a.txt'] },
  { name: '!(x) extglob', exclude: ['!(*.txt)'], local: ['n.txt'], remote: ['m.txt', 'img.png', 'd/pic.jpg', 'd/o.txt'], kept: ['img.png', 'd/pic.jpg'] },
  { name: '**/x', exclude: ['**/build'], local: ['src/a.c'], remote: ['build/o.o', 'lib/build/p.o', 'lib/q.c'], kept: ['build/o.o', 'lib/build/p.o'] },
  { name: 'dotfiles', exclude: ['.git'], local: ['README'], remote: ['.git/config', '.git/objects/ab/cd', '.env'], kept: ['.git/config', '.git/objects/ab/cd'] },
  { name: 'unicode', exclude: ['ünï'], local: ['café.txt'], remote: ['ünï/çà.txt', 'd/ünï/x', 'ünïx'], kept: ['ünï/çà.txt', 'd/ünï/x'] },
  {
    name: 'nested include + exclude', include: ['d/**'], exclude: ['d/*.log'], local: ['d/a.txt', 'e/b.txt'],
    remote: ['d/old.log', 'd/sub/x.log', 'd/gone.txt', 'e/other.txt'], kept: ['d/old.log', 'e/other.txt'],
  },
];

describe('sync --delete and --include/--exclude: one pattern, one meaning', () => {
  it.each(CASES.map((c, i) => [c.name, i] as const))('%s: excluded remote objects stay, the rest are deleted', async (_name, i) => {
    const c = CASES[i]!;
    const prefix = `pat${i}`;
    const t = tree(Object.fromEntries(c.local.map((f) => [f, `local ${f}`])));
    await seed(bucket, [...c.local, ...c.remote].map((k) => `${prefix}/${k}`));
    const flags = [...(c.include ?? []).flatMap((p) => ['--include', p]), ...(c.exclude ?? []).flatMap((p) => ['--exclude', p])];
    const r = await runCli(env, ['sync', t, `s3://${bucket}/${prefix}`, ...ep, '--delete', ...flags]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const got = await keysUnder(bucket, `${prefix}/`);
    for (const k of c.kept) expect(got, `${c.name}: ${k} was excluded and must stay`).toContain(k);
    // every local name was seeded too, so afterwards: the local names and the excluded objects, nothing else
    expect(got).toEqual([...new Set([...c.local, ...c.kept])].sort());
  });
});

describe('sync --delete never deletes under a path the walk could not read', () => {
  it('a skipped directory symlink and a broken symlink keep their whole remote subtree', async () => {
    const t = tree({ 'real/a.txt': 'a', 'top.txt': 'top', 'elsewhere/e.txt': 'e' });
    fs.symlinkSync('elsewhere', path.join(t, 'dirlink'));
    fs.symlinkSync('/nonexistent/unmounted-share', path.join(t, 'broken'));
    const under = ['dirlink/x.txt', 'dirlink/sub/y.txt', 'dirlink', 'broken', 'broken/z.txt', 'broken/deep/er.txt'];
    await seed(bucket, [...under, 'gone.txt', 'real/old.txt'].map((k) => `links/${k}`));

    const r = await runCli(env, ['sync', t, `s3://${bucket}/links`, ...ep, '--delete']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const got = await keysUnder(bucket, 'links/');
    expect(got).toEqual([...under, 'elsewhere/e.txt', 'real/a.txt', 'top.txt'].sort());

    // followed, the directory link is read (its extra objects go); the broken link still is not
    const f = await runCli(env, ['sync', t, `s3://${bucket}/links`, ...ep, '--delete', '--follow-symlinks']);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(await keysUnder(bucket, 'links/')).toEqual(
      ['broken', 'broken/deep/er.txt', 'broken/z.txt', 'dirlink/e.txt', 'elsewhere/e.txt', 'real/a.txt', 'top.txt'].sort());
  });

  it('an unreadable directory keeps its remote subtree (run as an unprivileged user)', async () => {
    const t = tree({ 'ok/1.txt': '1', 'locked/inner.txt': 'i' });
    fs.chmodSync(t, 0o755);
    fs.chmodSync(path.join(t, 'locked'), 0o000);
    cleanups.push(() => fs.chmodSync(path.join(t, 'locked'), 0o755));
    await seed(bucket, ['locked/inner.txt', 'locked/deep/x.txt', 'gone.txt'].map((k) => `perm/${k}`));
    // the dry run says what the real run does: nothing deleted
    const dry = await runCli(env, ['sync', t, `s3://${bucket}/perm`, ...ep, '--delete', '--dry-run'], AS_USER);
    expect(dry.stdout).not.toMatch(/would delete/);
    expect(dry.stdout).toMatch(/Not deleted: 1 remote-only objects kept: .*could not be read/);
    const r = await runCli(env, ['sync', t, `s3://${bucket}/perm`, ...ep, '--delete'], AS_USER);
    expect(r.stdout).toMatch(/locked: cannot read directory: EACCES/);
    expect(r.code).toBe(1);
    const got = await keysUnder(bucket, 'perm/');
    for (const k of ['locked/inner.txt', 'locked/deep/x.txt']) expect(got).toContain(k);
  });
});

describe('names with a line break (CR, LF, U+2028), which the glob walker cannot match', () => {
  it('are named as failed, never silently left out, and their remote objects are not deleted', async () => {
    const t = tree({ 'x/ok.txt': 'ok', [`x/cr\rname.txt`]: 'cr', [`lf\ndir/inner.txt`]: 'lf', [`x/ls\u2028.txt`]: 'ls' });
    const odd = ['x/cr\rname.txt', 'lf\ndir/inner.txt', 'x/ls\u2028.txt'];
    await seed(bucket, [...odd, 'gone.txt'].map((k) => `crlf/${k}`));
    const up = await runCli(env, ['upload', t, bucket, 'crlf-up', ...ep]);
    expect(up.code, up.stdout + up.stderr).toBe(1);
    expect(up.stdout).toMatch(/x\/cr\\rname\.txt: name contains a line break/);
    expect(up.stdout).toMatch(/lf\\ndir: name contains a line break/);
    const r = await runCli(env, ['sync', t, `s3://${bucket}/crlf`, ...ep, '--delete']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(await keysUnder(bucket, 'crlf/')).toEqual([...odd, 'gone.txt', 'x/ok.txt'].sort());
  });
});

describe('sync --delete refuses to empty a prefix or a bucket root without --delete-all', () => {
  const oneLine = (stderr: string): string => {
    const lines = stderr.trim().split('\n');
    expect(lines, stderr).toHaveLength(1);
    return lines[0]!;
  };

  it('an empty or all-excluded source directory: exit 2, one line, nothing deleted; --delete-all deletes', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-empty-'));
    cleanups.push(() => fs.rmSync(empty, { recursive: true, force: true }));
    const some = tree({ 'x.log': 'x', 'd/y.log': 'y' });
    await seed(bucket, ['a.txt', 'b/c.txt'].map((k) => `empty/${k}`));

    const r = await runCli(env, ['sync', empty, `s3://${bucket}/empty`, ...ep, '--delete']);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(/^s3x: error: .*no local file.*--delete-all/);
    const dry = await runCli(env, ['sync', empty, `s3://${bucket}/empty`, ...ep, '--delete', '--dry-run']);
    expect(dry.code).toBe(2);
    const excluded = await runCli(env, ['sync', some, `s3://${bucket}/empty`, ...ep, '--delete', '--exclude', '*.log']);
    expect(excluded.code).toBe(2);
    expect(oneLine(excluded.stderr)).toMatch(/--delete-all/);
    expect(await keysUnder(bucket, 'empty/')).toEqual(['a.txt', 'b/c.txt']);

    const all = await runCli(env, ['sync', empty, `s3://${bucket}/empty`, ...ep, '--delete-all']);
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(await keysUnder(bucket, 'empty/')).toEqual([]);
  });

  it('to a bucket root (no prefix): exit 2 without --delete-all, whatever the local side holds', async () => {
    const { bucket: rootBucket, drop: dropRoot } = await makeBucket(env, 'syncroot');
    cleanups.push(dropRoot);
    const t = tree({ 'a.txt': 'a' });
    await seed(rootBucket, ['other-team/report.csv', 'b.txt']);
    for (const target of [rootBucket, `s3://${rootBucket}`, `s3://${rootBucket}/`]) {
      const r = await runCli(env, ['sync', t, target, ...ep, '--delete']);
      expect(r.code, target).toBe(2);
      expect(oneLine(r.stderr)).toMatch(/^s3x: error: .*bucket root.*--delete-all/);
    }
    expect(await keysUnder(rootBucket, '')).toEqual(['b.txt', 'other-team/report.csv']); // nothing sent, nothing deleted
    const ok = await runCli(env, ['sync', t, rootBucket, ...ep, '--delete-all']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(await keysUnder(rootBucket, '')).toEqual(['a.txt']);
  });
});
