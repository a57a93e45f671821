/**
 * `s3x download` end to end against real Ceph RGW gateways: a tree uploaded by `s3x upload` (plus a
 * large single-part object, a folder marker and awkward names) comes back byte-exact over every
 * gateway, whole and as ranged parts; planted keys that would escape the directory are refused
 * and nothing is written outside it; Ctrl-C leaves no partial file; --skip-existing sends nothing.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy } from '../support/fault-proxy.js';
import { putObjects } from '../support/seed.js';
import { BIN, makeBucket, makeTree, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const endpointFlags = env.endpoints.flatMap((e) => ['--endpoint-url', e]);
const ranged = ['--multipart-threshold', '5MiB', '--part-size', '5MiB'];

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-dl-'));
/** relative path → content, everything under the "dl/" prefix */
const files: Record<string, Buffer> = {};

type Rec = Record<string, unknown> & { type: string };
const records = (stdout: string): Rec[] => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

/** Every regular file under `dir`, relative, with '/' separators. */
function walk(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile() || d.isSymbolicLink())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    .sort();
}

function expectExact(dir: string, expected: Record<string, Buffer>): void {
  expect(walk(dir)).toEqual(Object.keys(expected).sort());
  for (const [rel, content] of Object.entries(expected)) expect(md5(fs.readFileSync(path.join(dir, rel))), rel).toBe(md5(content));
}

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'download'));
  for (let i = 0; i < 30; i++) files[`nested/d${i % 3}/deeper/f${i}.dat`] = crypto.randomBytes(100 + i * 37);
  files['empty.bin'] = Buffer.alloc(0);
  files['.hidden/.dotfile'] = Buffer.from('dot');
  for (const name of ['a b/with space.txt', 'unicode/ünï cødé 文件.txt', 'plus+sign.txt', 'per%cent%20.txt', 'quote\'s (1).txt']) files[name] = Buffer.from(`content of ${name}`);
  files['medium.bin'] = crypto.randomBytes(300 * 1024); // streamed (above the 256 KiB buffer limit)
  files['big/multipart.bin'] = crypto.randomBytes(12 * MIB + 12345); // uploaded in 3 parts: ETag "…-3"
  tree = makeTree(files);
  const up = await runCli(env, ['upload', tree, bucket, 'dl', ...endpointFlags, ...ranged]);
  expect(up.code, up.stderr).toBe(0);
  // a large single-part object (ETag = MD5): ranged GETs, then the MD5 is checked on the whole file
  const single = crypto.randomBytes(11 * MIB + 7);
  await putObjects(env, bucket, [['dl/big/single.bin', single], ['dl/emptydir/', '']]);
  files['big/single.bin'] = single;
});

afterAll(async () => {
  await drop?.();
  for (const d of [tree, work]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

describe('s3x download', () => {
  it('round-trips the tree byte-exact over every gateway, large objects as ranged parts; a folder marker becomes a directory', async () => {
    const out = path.join(work, 'ranged');
    const r = await runCli(env, ['download', bucket, 'dl', out, ...endpointFlags, ...ranged, '--json', '-c', '8']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expectExact(out, files);
    expect(fs.statSync(path.join(out, 'emptydir')).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(out, 'emptydir'))).toEqual([]);

    const recs = records(r.stdout);
    const summary = recs.at(-1)!;
    const n = Object.keys(files).length;
    expect(summary).toMatchObject({ type: 'summary', files: n, failed: [], directories: 1, notAttempted: 0, skipped: 0 });
    expect(summary.bytes).toBe(Object.values(files).reduce((s, b) => s + b.length, 0));
    const gets = recs.filter((x) => x.type === 'request' && x.op === 'GetObject');
    // 12 MiB + 11 MiB in 5 MiB parts: 3 + 3 ranged GETs, one GET for every other file
    expect(gets.filter((x) => x.part !== undefined)).toHaveLength(6);
    expect(gets.filter((x) => x.part === undefined)).toHaveLength(n - 2);
    expect(new Set(gets.map((x) => x.endpoint)).size).toBe(env.endpoints.length);
    // the local mtime is the object's LastModified
    expect(Math.abs(fs.statSync(path.join(out, 'medium.bin')).mtimeMs - Date.now())).toBeLessThan(10 * 60_000);
  });

  it('default thresholds (whole-object GETs, streamed to disk) give the same bytes; --table names the requests', async () => {
    const out = path.join(work, 'whole');
    const r = await runCli(env, ['download', bucket, 'dl/', out, '--endpoint-url', env.endpoints[1]!, '--table']);
    expect(r.code).toBe(0);
    expectExact(out, files);
    for (const col of ['key', 'endpoint', 'attempts', 'success_ms', 'MBps est']) expect(r.stdout).toContain(col);
    expect(r.stdout).toMatch(new RegExp(`Downloaded ${Object.keys(files).length} files, [\\d.]+ MiB from s3://\\S+/dl/ to \\S+ in [\\d.]+ s: [\\d.]+ MB/s`));

    // --skip-existing: nothing is fetched again
    const again = await runCli(env, ['download', bucket, 'dl', out, '--endpoint-url', env.endpoints[2]!, '--skip-existing', '--json']);
    expect(again.code).toBe(0);
    const recs = records(again.stdout);
    expect(recs.filter((x) => x.op === 'GetObject')).toEqual([]);
    expect(recs.at(-1)).toMatchObject({ files: 0, skipped: Object.keys(files).length });
  });

  it('a body corrupted in transit fails the MD5 check and is fetched again: the files are still exact', async () => {
    // every 3rd GET of a whole object has one byte flipped by the proxy. big/ is left out here: a
    // multipart ETag is not an MD5 of the content (checked by length only), and the ranged parts of
    // big/single.bin would be hit in every round of 3 (every-N is periodic); it gets its own check below.
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^GET \/[^/?]+\/dl\/(?!big\/)/, corruptResponseEvery: 3 } });
    try {
      const out = path.join(work, 'corrupted');
      // a 5 s first deadline: on a loaded 2-core machine a GET past the 500 ms floor was cut and
      // retried too (19 retries for 18 corrupted answers), which is not what this test is about
      const r = await runCli(env, ['download', bucket, 'dl', out, '--endpoint-url', proxy.url, ...ranged, '--json', '-c', '4', '--min-deadline-ms', '5000']);
      expect(r.code).toBe(0);
      expectExact(out, files);
      const corrupted = proxy.stats().responsesCorrupted;
      expect(corrupted).toBeGreaterThanOrEqual(10);
      // each corrupted answer cost exactly one retry of that GET
      expect(records(r.stdout).at(-1)!.retries).toBe(corrupted);

      // ranged parts, corrupted every time: the MD5 of the assembled file catches it, the object is
      // fetched again (--retries 1: once), then named as failed; no file under its name nor a temporary one
      proxy.setFaults({ match: /^GET \/[^/?]+\/dl\/big\/single\.bin/, corruptResponseEvery: 1 });
      const out2 = path.join(work, 'corrupted-always');
      const r2 = await runCli(env, ['download', bucket, 'dl/big', out2, '--endpoint-url', proxy.url, ...ranged, '--retries', '1']);
      expect(r2.code).toBe(1);
      expect(r2.stdout).toMatch(/Failed: 1 object\n {2}dl\/big\/single\.bin: BadDigest: dl\/big\/single\.bin: MD5 of the bytes received is [0-9a-f]{32}, the ETag says [0-9a-f]{32}/);
      expect(walk(out2)).toEqual(['multipart.bin']);
    } finally {
      await proxy.close();
    }
  });

  it('refuses keys that would escape the directory, names them, writes nothing outside, downloads the rest (exit 1)', async () => {
    const evil = ['esc/../evil.txt', 'esc/a/../../evil2.txt', 'esc//abs.txt', 'esc/back\\slash.txt', 'esc/./dot.txt', 'esc/x/..', 'esc/link/pwn.txt'];
    await putObjects(env, bucket, [...evil, 'esc/ok.txt', 'esc/sub/ok2.txt'].map((k) => [k, `planted ${k}`] as const));
    const parent = fs.mkdtempSync(path.join(work, 'escape-'));
    const out = path.join(parent, 'out');
    const outside = path.join(parent, 'outside');
    fs.mkdirSync(out);
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(out, 'link')); // a symlink already in the target must not lead out
    const r = await runCli(env, ['download', bucket, 'esc', out, ...endpointFlags]);
    expect(r.code).toBe(1);
    for (const k of evil) expect(r.stdout).toContain(`  ${k}: refused`);
    expect(r.stdout).toMatch(/Failed: 7 objects/);
    expect(r.stdout).toMatch(/esc\/link\/pwn\.txt: refused: link is a symbolic link/);
    expect(walk(out)).toEqual(['link', 'ok.txt', 'sub/ok2.txt']);
    expect(fs.readdirSync(parent).sort()).toEqual(['out', 'outside']);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.existsSync(path.join(work, 'evil.txt'))).toBe(false);
  });

  it('a small file that cannot be put in place (a directory holds its name) is named; no temporary file is left; the rest is exact (exit 1)', async () => {
    const objs = Array.from({ length: 40 }, (_, i) => [`clash/f${String(i).padStart(2, '0')}.txt`, crypto.randomBytes(50 + i)] as const);
    await putObjects(env, bucket, objs);
    const out = fs.mkdtempSync(path.join(work, 'clash-'));
    // the rename of the finished temporary file onto f07.txt fails (EISDIR): a non-empty directory is there
    fs.mkdirSync(path.join(out, 'f07.txt', 'mine'), { recursive: true });
    const r = await runCli(env, ['download', bucket, 'clash', out, ...endpointFlags, '-c', '4']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Failed: 1 object/m);
    expect(r.stdout).toMatch(/^ {2}clash\/f07\.txt: EISDIR/m);
    expect(fs.readdirSync(out).filter((n) => n.includes('.s3x-tmp-'))).toEqual([]);
    expect(fs.readdirSync(path.join(out, 'f07.txt'))).toEqual(['mine']);
    const rest = Object.fromEntries(objs.filter(([k]) => k !== 'clash/f07.txt').map(([k, b]) => [k.slice('clash/'.length), b]));
    expect(walk(out).filter((n) => !n.startsWith('f07.txt/'))).toEqual(Object.keys(rest).sort());
    for (const [rel, b] of Object.entries(rest)) expect(fs.readFileSync(path.join(out, rel)).equals(b), rel).toBe(true);
  });

  it('small bodies that stall mid-way (every 4th GET sends 100 bytes, then nothing) are cut and fetched again: exact files, no temporary file (--no-hedge)', async () => {
    const objs = Array.from({ length: 16 }, (_, i) => [`cutmid/g${String(i).padStart(2, '0')}.bin`, crypto.randomBytes(1000 + i)] as const);
    await putObjects(env, bucket, objs);
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^GET \/[^/?]+\/cutmid\//, stallEvery: 4, stallAfterBytes: 100 } });
    const out = fs.mkdtempSync(path.join(work, 'cutmid-'));
    try {
      const r = await runCli(env, ['download', bucket, 'cutmid', out, '--endpoint-url', proxy.url, '-c', '4', '--no-hedge', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const summary = records(r.stdout).at(-1)!;
      expect(summary).toMatchObject({ type: 'summary', files: objs.length });
      expect(summary.retries as number).toBeGreaterThanOrEqual(4);
      expect(walk(out)).toEqual(objs.map(([k]) => k.slice('cutmid/'.length)).sort());
      for (const [k, b] of objs) expect(fs.readFileSync(path.join(out, k.slice('cutmid/'.length))).equals(b), k).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('a directory replaced by a symbolic link mid-run is refused: nothing is written through the link (exit 1)', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `swap/sub/f${String(i).padStart(2, '0')}.txt`);
    await putObjects(env, bucket, names.map((k) => [k, `planted ${k}`] as const));
    // each GET answered late, one at a time: the swap lands while files are still to come
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^GET \/[^/?]+\/swap\//, responseDelayMs: 250 } });
    const parent = fs.mkdtempSync(path.join(work, 'swap-'));
    const out = path.join(parent, 'out');
    const outside = path.join(parent, 'outside');
    const moved = path.join(parent, 'moved');
    fs.mkdirSync(outside);
    try {
      const run = runCli(env, ['download', bucket, 'swap', out, '--endpoint-url', proxy.url, '-c', '1']);
      const sub = path.join(out, 'sub');
      const deadline = Date.now() + 30_000;
      while (!(fs.existsSync(sub) && fs.readdirSync(sub).some((n) => !n.includes('.s3x-tmp-'))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      fs.renameSync(sub, moved); // the checked directory goes away, a link to elsewhere takes its name
      fs.symlinkSync(outside, sub);
      const r = await run;
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/refused: the directory sub was replaced by a symbolic link during the run/);
      expect(fs.readdirSync(outside)).toEqual([]);
      const before = fs.readdirSync(moved);
      expect(before.length).toBeGreaterThanOrEqual(1);
      expect(before.filter((n) => n.includes('.s3x-tmp-'))).toEqual([]);
      expect(before.length).toBeLessThan(names.length);
    } finally {
      await proxy.close();
    }
  });

  it('Ctrl-C mid-download leaves no partial file: finished files are whole, the rest absent, exit 130', async () => {
    const big = crypto.randomBytes(30 * MIB);
    const smalls = Array.from({ length: 20 }, (_, i) => [`intr/z${i}.txt`, `small ${i}`] as const);
    await putObjects(env, bucket, [['intr/a-big.bin', big], ...smalls]);
    // throttled so the download is still running when the signal comes
    const proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^GET /, throttleBytesPerSecTotal: 12e6 } });
    const out = path.join(work, 'interrupted');
    try {
      const child = spawn(process.execPath, [BIN, 'download', bucket, 'intr', out, '--endpoint-url', proxy.url, ...ranged, '-c', '2', '--json'], {
        env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let sent = false;
      let sawTmp = false;
      const code = await new Promise<number | null>((resolve) => {
        const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          if (!sent && stdout.includes('"op":"GetObject"')) {
            // a part has landed: the temporary file of the big object exists right now
            sawTmp = fs.readdirSync(out).some((n) => n.includes('.s3x-tmp-'));
            sent = true;
            child.kill('SIGINT');
          }
        });
        child.on('close', (c) => { clearTimeout(killer); resolve(c); });
      });
      expect(sent).toBe(true);
      expect(sawTmp).toBe(true);
      expect(code).toBe(130);
      const summary = records(stdout).at(-1)!;
      expect(summary).toMatchObject({ type: 'summary', interrupted: true });
      const left = walk(out);
      expect(left.filter((n) => n.includes('.s3x-tmp-'))).toEqual([]);
      expect(left).not.toContain('a-big.bin');
      for (const n of left) expect(fs.readFileSync(path.join(out, n), 'utf8')).toBe(`small ${/z(\d+)/.exec(n)![1]}`);
      expect(left.length).toBe(summary.files);
    } finally {
      await proxy.close();
    }
  });

  it('bad input gives one clear line and exit 2', async () => {
    const file = path.join(work, 'a-file');
    fs.writeFileSync(file, 'x');
    for (const [args, message] of [
      [['download', bucket, 'dl', file, ...endpointFlags], /'.*a-file' is not a directory/],
      [['download', 'no-such-bucket-s3x', 'dl', path.join(work, 'nb'), ...endpointFlags], /bucket 'no-such-bucket-s3x' does not exist at http:\/\/127\.0\.0\.1:\d+/],
      [['download', bucket, 'dl', path.join(work, 'ps'), ...endpointFlags, '--part-size', '1MiB'], /--part-size must be from 5 MiB to 5 GiB/],
    ] as const) {
      const r = await runCli(env, [...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    // a run the bucket refused made no directory (aws-cli makes none either)
    expect(fs.existsSync(path.join(work, 'nb'))).toBe(false);
  });

  it('a missing bucket leaves no directory behind, however deep the missing part; a run that starts makes them all', async () => {
    const deep = path.join(work, 'deep-missing', 'a', 'b');
    const r = await runCli(env, ['download', 'no-such-bucket-s3x', 'dl', deep, ...endpointFlags]);
    expect(r.code).toBe(2);
    expect(fs.existsSync(path.join(work, 'deep-missing'))).toBe(false);
    const ok = await runCli(env, ['download', bucket, 'no-such-prefix-s3x', deep, ...endpointFlags]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
  });

  it('a missing directory under a file: one line, exit 2, before any request (the bucket is not asked)', async () => {
    const file = path.join(work, 'a-plain-file');
    fs.writeFileSync(file, 'x');
    const r = await runCli(env, ['download', 'no-such-bucket-s3x', 'dl', path.join(file, 'sub'), ...endpointFlags]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/is not a directory/);
  });
});
