/** `s3x perf-data`: repeated runs over a generated tree, per-request records, statistics. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listAll, makeBucket, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
let bucket: string;
let drop: () => Promise<void>;
beforeAll(async () => { ({ bucket, drop } = await makeBucket(env, 'perf')); });
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-perf-test-'));
afterAll(async () => {
  await drop?.();
  fs.rmSync(scratch, { recursive: true, force: true });
});

type Rec = Record<string, unknown> & { type: string };

describe('s3x perf-data', () => {
  it('runs -n times over a generated tree and reports per request, per run and across runs', async () => {
    const r = await runCli(env, ['perf-data', path.join(scratch, 'a'), bucket, 'pd', '--generate', 'files=30,size=1KiB,dirs=3', '-n', '2', '--endpoint-url', env.endpoints[0]!, '--json']);
    expect(r.code).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec);
    const runs = recs.filter((x) => x.type === 'run');
    expect(runs.map((x) => [x.run, x.files, x.bytes])).toEqual([[1, 30, 30 * 1024], [2, 30, 30 * 1024]]);
    expect(recs.filter((x) => x.type === 'request' && x.op === 'PutObject')).toHaveLength(60);
    const summary = recs.at(-1)!;
    expect(summary).toMatchObject({ type: 'summary', runs: 2, failed: 0 });
    const wall = summary.wallMs as { median: number; min: number; max: number };
    expect(wall.min).toBeLessThanOrEqual(wall.median);
    expect(wall.median).toBeLessThanOrEqual(wall.max);
    expect((summary.cpuMsPerRequest as { median: number }).median).toBeGreaterThan(0);
    expect(summary.peakRssBytes as number).toBeGreaterThan(10 * 1024 * 1024);
    expect((await listAll(env, bucket, 'pd/')).length).toBe(30);
  });

  it('human output: table and statistics', async () => {
    const r = await runCli(env, ['perf-data', path.join(scratch, 'b'), bucket, 'pd2', '--generate', 'files=5,size=100', '-n', '1', '--endpoint-url', env.endpoints[0]!]);
    expect(r.code).toBe(0);
    for (const col of ['attempts', 'bytes', 'success_ms', 'total_ms', 'MBps', 'MBps est']) expect(r.stdout).toContain(col);
    expect(r.stdout).toMatch(/run 1: 5 files, 500 B in [\d.]+ s/);
    expect(r.stdout).toMatch(/Across 1 runs \(median, min, max\):\n {2}wall +[\d.]+ s/);
    expect(r.stdout).toMatch(/client CPU +[\d.]+ ms\/request/);
  });

  it('says what to pass when there is no endpoint', async () => {
    const r = await runCli(env, ['perf-data', '--generate', 'files=1,size=1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('s3x: error: perf-data needs endpoints: pass --endpoint-url URL (repeatable) or --config FILE, or --local to start local Ceph gateways\n');
  });

  it('AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true turns AWS_ENDPOINT_URL_S3 off here too (it went on to AWS S3)', async () => {
    // a dead local proxy: without the fix the run would head for AWS, and must not leave this machine
    const off = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true', HTTPS_PROXY: 'http://127.0.0.1:9' };
    const r = await runCli(env, ['perf-data', '--generate', 'files=1,size=1'], { env: off });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^s3x: error: perf-data needs endpoints: /);
  });

  it.runIf(env.cephDir !== undefined)('--local reuses the running gateways and makes the bucket', async () => {
    const r = await runCli(env, ['perf-data', path.join(scratch, 'c'), `${bucket}-local`, '--local', '--generate', 'files=3,size=10', '-n', '1', '--json'], { env: { S3X_CEPH_DIR: env.cephDir } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/"type":"summary","runs":1/);
  });
});

describe('s3x perf-data --generate never touches what the user owns', () => {
  const listTree = (root: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (e.isFile()) out[path.relative(root, path.join(e.parentPath, e.name))] = fs.readFileSync(path.join(e.parentPath, e.name), 'utf8');
    }
    return out;
  };
  const gen = (dir: string, spec: string): ReturnType<typeof runCli> =>
    runCli(env, ['perf-data', dir, bucket, 'own', '--generate', spec, '-n', '1', '--endpoint-url', env.endpoints[0]!, '--no-requests']);

  it('refuses a non-empty directory it did not create (exit 2, one line) and leaves every file as it was', async () => {
    const dir = path.join(scratch, 'users');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    fs.writeFileSync(path.join(dir, 'sub', 'f000000.bin'), 'also mine');
    const before = listTree(dir);
    const r = await gen(dir, 'files=3,size=10');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`s3x: error: '${dir}' is not empty and was not generated by s3x: --generate writes only into a new or empty directory (omit <dir> for a temp one)\n`);
    expect(listTree(dir)).toEqual(before);
  });

  it('generates into an empty directory, reuses its own tree, and refuses to replace it with another spec', async () => {
    const dir = path.join(scratch, 'empty');
    fs.mkdirSync(dir);
    expect((await gen(dir, 'files=3,size=10')).code).toBe(0);
    const generated = listTree(dir);
    expect(Object.keys(generated)).toHaveLength(3);
    const mtimeMs = fs.statSync(path.join(dir, 'f000000.bin')).mtimeMs;
    expect((await gen(dir, 'files=3,size=10')).code).toBe(0);
    expect(fs.statSync(path.join(dir, 'f000000.bin')).mtimeMs).toBe(mtimeMs); // reused, not rewritten
    const other = await gen(dir, 'files=4,size=10');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/holds a tree s3x generated with files=3,size=10.*not replaced/);
    expect(listTree(dir)).toEqual(generated);
  });

  it('a directory put where its own tree was (same name, new directory) is not taken for its own', async () => {
    const dir = path.join(scratch, 'replaced');
    expect((await gen(dir, 'files=2,size=10')).code).toBe(0);
    fs.rmSync(dir, { recursive: true });
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'f000000.bin'), 'user data');
    const r = await gen(dir, 'files=2,size=10');
    expect(r.code).toBe(2);
    expect(fs.readFileSync(path.join(dir, 'f000000.bin'), 'utf8')).toBe('user data');
    expect(fs.readdirSync(dir)).toEqual(['f000000.bin']);
  });
});
