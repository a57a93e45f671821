/**
 * The endpoint pool against real gateways: a gateway dying mid-run, an endpoint 5× slower than
 * the others, bucket-map and config/env, replicate to two independent clusters, priorities,
 * and `s3x endpoints check`.
 */
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AbortMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { BIN, ROOT, client, listAll, makeBucket, makeTree, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');

let bucket: string;
let drop: () => Promise<void>;
/** the second, independent store (started by the replicate suite, used by the fallback test) */
let storeBUrl: string | undefined;
const proxies: FaultProxy[] = [];
const stopStores: Array<() => void> = [];
const trees: string[] = [];

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'pool'));
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await drop?.();
  for (const t of trees) fs.rmSync(t, { recursive: true, force: true });
  for (const stop of stopStores) stop();
});

function tree(files: Record<string, Buffer | string>): string {
  const t = makeTree(files);
  trees.push(t);
  return t;
}

async function proxiesFor(faults: Parameters<typeof startFaultProxy>[0]['faults'][] ): Promise<FaultProxy[]> {
  const ps = await Promise.all(faults.map((f, i) => startFaultProxy({ target: env.endpoints[i % env.endpoints.length]!, faults: f ?? {} })));
  proxies.push(...ps);
  return ps;
}

type Rec = Record<string, unknown> & { type: string };
/** Runs the CLI with --json and calls `onRecord` for each record as it arrives. */
function runStreaming(args: string[], onRecord: (r: Rec) => void, extraEnv: Record<string, string> = {}): Promise<{ code: number | null; records: Rec[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], {
      env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const records: Rec[] = [];
    let buf = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const r = JSON.parse(buf.slice(0, nl)) as Rec;
        buf = buf.slice(nl + 1);
        records.push(r);
        onRecord(r);
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 100_000);
    child.on('close', (code) => { clearTimeout(killer); resolve({ code, records, stderr }); });
  });
}

async function expectAllStored(prefix: string, files: Record<string, Buffer>): Promise<void> {
  const listed = await listAll(env, bucket, prefix);
  expect(listed.map((o) => o.Key).sort()).toEqual(Object.keys(files).map((k) => `${prefix}${k}`).sort());
  // single-part ETag = MD5 of the content
  for (const o of listed) expect(o.ETag!.replace(/"/g, ''), o.Key).toBe(md5(files[o.Key!.slice(prefix.length)]!));
}

type Summary = { files: number; failed: Array<{ path: string; endpoint?: string; error: string }>; endpoints: Array<{ name: string; url: string; bytes: number; errors: number; breaker: string; breakerTransitions: Array<{ to: string; reason?: string }>; filesOk?: number; filesFailed?: number }> };

describe('s3x upload over a pool', () => {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 300; i++) files[`d${i % 7}/f${i}.bin`] = crypto.randomBytes(2048 + (i % 13) * 100);

  it('an endpoint that dies mid-run: every file arrives, its breaker opens, the summary names it', async () => {
    const t = tree(files);
    const [, doomed] = await proxiesFor([{ delayMs: 10 }, { delayMs: 10 }, { delayMs: 10 }]);
    const ps = proxies.slice(-3);
    let closed = false;
    const r = await runStreaming(['upload', t, bucket, 'die/', ...ps.flatMap((p) => ['--endpoint-url', p.url]), '-c', '6', '--strategy', 'round-robin'], (rec) => {
      if (!closed && rec.type === 'request' && Number(rec.attempts) === 1) {
        const n = (runStreaming as unknown as { n?: number }).n = ((runStreaming as unknown as { n?: number }).n ?? 0) + 1;
        if (n === 40) { closed = true; void doomed!.close(); }
      }
    });
    expect(closed).toBe(true);
    expect(r.code).toBe(0);
    const summary = r.records.at(-1) as unknown as Summary;
    expect(summary.files).toBe(300);
    expect(summary.failed).toEqual([]);
    const ep2 = summary.endpoints.find((e) => e.url === doomed!.url)!;
    expect(ep2.breakerTransitions.map((x) => x.to)).toContain('open');
    expect(ep2.errors).toBeGreaterThanOrEqual(5);
    await expectAllStored('die/', files);
  });

  it.runIf(env.cephDir !== undefined)('a real gateway stopped by hand mid-run: same, and the human summary says so', async () => {
    const t = tree(files);
    const script = path.join(ROOT, 'scripts/ceph-rgw.sh');
    const child = spawn(process.execPath, [BIN, 'upload', t, bucket, 'stop/', ...env.endpoints.flatMap((e) => ['--endpoint-url', e]), '-c', '4', '--strategy', 'round-robin', '--stats'], {
      env: { PATH: process.env.PATH!, HOME: os.tmpdir(), AWS_ACCESS_KEY_ID: env.accessKeyId, AWS_SECRET_ACCESS_KEY: env.secretAccessKey, AWS_REGION: env.region },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise((r) => setTimeout(r, 250));
      execFileSync('bash', [script, 'down', '--dir', env.cephDir!, '7481'], { stdio: 'ignore' });
      expect(await done).toBe(0);
    } finally {
      execFileSync('bash', [script, 'up', '--dir', env.cephDir!, '7480', '7481', '7482'], { stdio: 'ignore' });
    }
    expect(stdout).toMatch(/Uploaded 300 files/);
    expect(stdout).toMatch(/Endpoint ep2 http:\/\/127\.0\.0\.1:7481: breaker opened at [\d.]+ s after (ECONNREFUSED|ECONNRESET|socket hang up|DeadlineExceeded)/);
    expect(stdout).toMatch(/breaker/); // the --stats table
    await expectAllStored('stop/', files);
  });

  it('adaptive sends an endpoint 5x slower a fifth of the bytes or less; round-robin does not', async () => {
    const big: Record<string, Buffer> = {};
    for (let i = 0; i < 24; i++) big[`b${i}.bin`] = crypto.randomBytes(1.5 * MIB);
    const t = tree(big);
    const share = async (strategy: string): Promise<number> => {
      const ps = await proxiesFor([{ throttleBytesPerSecTotal: 8e6 }, { throttleBytesPerSecTotal: 8e6 }, { throttleBytesPerSecTotal: 1.6e6 }]);
      // generous deadlines: this test is about where requests are routed, not about cutting them
      const r = await runStreaming(['upload', t, bucket, `${strategy}/`, ...ps.flatMap((p) => ['--endpoint-url', p.url]), '-c', '6', '--strategy', strategy, '--min-deadline-ms', '30000'], () => {});
      expect(r.code).toBe(0);
      const s = r.records.at(-1) as unknown as Summary;
      const total = s.endpoints.reduce((n, e) => n + e.bytes, 0);
      expect(total).toBe(24 * 1.5 * MIB);
      await Promise.all(ps.map((p) => p.close()));
      return s.endpoints.find((e) => e.url === ps[2]!.url)!.bytes / total;
    };
    const adaptive = await share('adaptive');
    expect(adaptive).toBeLessThanOrEqual(0.2);
    const rr = await share('round-robin');
    expect(rr).toBeGreaterThanOrEqual(0.3);
  });
});

describe('config file, env and bucket-map', () => {
  it('bucket-map routes by bucket; env overrides an endpoint; errors name the field', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-cfg-'));
    trees.push(dir);
    const cfg = path.join(dir, 'pool.json');
    fs.writeFileSync(cfg, JSON.stringify({
      endpoints: [{ name: 'a', url: env.endpoints[0] }, { name: 'b', url: env.endpoints[1 % env.endpoints.length] }],
      strategy: 'round-robin', bucketMap: { [bucket]: 'b', 'other-*': 'a' },
    }));
    const t = tree(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`m${i}.txt`, `map ${i}`])));
    const r = await runCli(env, ['upload', t, bucket, 'mapped', '--config', cfg, '--json']);
    expect(r.code).toBe(0);
    const reqs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec).filter((x) => x.type === 'request');
    expect(reqs).toHaveLength(12);
    expect(new Set(reqs.map((x) => x.endpoint))).toEqual(new Set(['b']));

    // env: endpoint 2 moved to another gateway, still named b
    const moved = env.endpoints[2 % env.endpoints.length]!;
    const r2 = await runCli(env, ['upload', t, bucket, 'mapped2', '--json'], { env: { S3X_CONFIG: cfg, S3X_ENDPOINT_2_URL: moved } });
    expect(r2.code).toBe(0);
    const s2 = JSON.parse(r2.stdout.trim().split('\n').at(-1)!) as Summary;
    expect(s2.endpoints.find((e) => e.name === 'b')!.url).toBe(moved);
    expect((await listAll(env, bucket, 'mapped2/')).length).toBe(12);

    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ endpoints: [{ url: env.endpoints[0], accessKeyId: 'AK', secretAccessKey: 'SECRET-XYZ', maxConcurrent: 'lots' }] }));
    const r3 = await runCli(env, ['upload', t, bucket, 'never', '--config', bad]);
    expect(r3.code).toBe(2);
    expect(r3.stderr).toBe(`s3x: error: --config ${bad}: endpoints[0].maxConcurrent: must be a whole number from 1 to 1024, got a string\n`);
    const r4 = await runCli(env, ['upload', t, bucket, 'never'], { env: { S3X_ENDPOINT_1_URL: env.endpoints[0]!, S3X_ENDPOINT_1_RETRIES: 'many' } });
    expect(r4.code).toBe(2);
    expect(r4.stderr).toMatch(/^s3x: error: S3X_ENDPOINT_1_RETRIES: must be a number, got "many"\n$/);
    expect(r3.stderr + r3.stdout).not.toContain('SECRET-XYZ');
  });
});

describe('priorities', () => {
  it('HIGH files go first and LOW files last among those found', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 120; i++) files[`data/${String(i).padStart(3, '0')}.bin`] = `d${i}`;
    files['zz/deep/manifest.json'] = '{}';
    for (let i = 0; i < 3; i++) files[`a-logs/${i}.log`] = `log ${i}`;
    const t = tree(files);
    const order = async (prefix: string, extra: string[]): Promise<string[]> => {
      const r = await runCli(env, ['upload', t, bucket, prefix, '--endpoint-url', env.endpoints[0]!, '-c', '1', '--json', ...extra]);
      expect(r.code).toBe(0);
      const keys = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec).filter((x) => x.op === 'PutObject').map((x) => String(x.key).slice(prefix.length + 1));
      expect(keys).toHaveLength(124);
      return keys;
    };
    // the walk finds the manifest late: without a priority it goes late
    const plain = await order('prio0', []);
    expect(plain.indexOf('zz/deep/manifest.json')).toBeGreaterThan(60);
    const prio = await order('prio', ['--priority', 'HIGH:**/manifest.json', '--priority', 'LOW:*.log']);
    // with one: among the first few. Files found before it may start first (the walk stats each
    // file as it goes and dispatch does not wait for it), so "first few", not "first".
    expect(prio.indexOf('zz/deep/manifest.json')).toBeLessThanOrEqual(12);
    // LOW files wait for everything else found, unless the walk met them before anything else
    // was queued (the first two start at once with -c 1)
    const logs = prio.map((k, i) => [k, i] as const).filter(([k]) => k.endsWith('.log')).map(([, i]) => i);
    expect(logs).toHaveLength(3);
    for (const i of logs) expect(i < 2 || i >= prio.length - 3, `log at ${i}`).toBe(true);
    expect(logs.filter((i) => i >= prio.length - 3).length).toBeGreaterThanOrEqual(1);
  });
});

describe('replicate to two independent stores', () => {
  const dirB = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-ceph-b-'));
  let storeB: string;
  const script = path.join(ROOT, 'scripts/ceph-rgw.sh');

  beforeAll(async () => {
    fs.rmSync(dirB, { recursive: true, force: true });
    const out = execFileSync('bash', [script, 'up', '--dir', dirB, '7490'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 170_000 });
    storeB = /S3X_ENDPOINTS="?([^"\n ]+)/.exec(out)![1]!;
    storeBUrl = storeB;
    const s3b = client(env, storeB);
    await s3b.send(new CreateBucketCommand({ Bucket: bucket }));
    s3b.destroy();
  }, 180_000);
  // stopped at the very end: the fallback test below reads from it too
  stopStores.push(() => execFileSync('bash', [script, 'down', '--dir', dirB, '--purge'], { stdio: 'ignore', timeout: 60_000 }));

  it('writes every object to both, verified object by object; a missing replica is named and exits 1', async () => {
    const files: Record<string, Buffer> = { 'multi.bin': crypto.randomBytes(6 * MIB), 'empty.txt': Buffer.alloc(0) };
    for (let i = 0; i < 20; i++) files[`r/${i}.bin`] = crypto.randomBytes(500 + i);
    const t = tree(files);
    const r = await runCli(env, ['upload', t, bucket, 'rep', '--mode', 'replicate', '--endpoint-url', env.endpoints[0]!, '--endpoint-url', storeB,
      '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--stats']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Replicas: ep1 22 stored; ep2 22 stored/);
    for (const endpoint of [env.endpoints[0]!, storeB]) {
      const s3 = client(env, endpoint);
      try {
        for (const [rel, content] of Object.entries(files)) {
          expect(await objectMd5(env, bucket, `rep/${rel}`, endpoint), `${rel} on ${endpoint}`).toBe(md5(content));
        }
      } finally {
        s3.destroy();
      }
    }

    // store B refuses one key: it is named as missing there, the other copy is stored
    const [refusing] = await proxiesFor([{ match: /^PUT \/[^/]+\/rep2\/r\/3\.bin/, resetEvery: 1 }]);
    refusing!.setFaults({ match: /^PUT \/[^/]+\/rep2\/r\/3\.bin/, resetEvery: 1 });
    const proxyB = await startFaultProxy({ target: storeB, faults: { match: /^PUT \/[^/]+\/rep2\/r\/3\.bin/, resetEvery: 1 } });
    proxies.push(proxyB);
    const r2 = await runCli(env, ['upload', t, bucket, 'rep2', '--mode', 'replicate', '--endpoint-url', env.endpoints[0]!, '--endpoint-url', proxyB.url,
      '--retries', '1', '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(r2.code).toBe(1);
    expect(r2.stdout).toMatch(/Replicas: ep1 22 stored; ep2 21 stored, 1 MISSING/);
    expect(r2.stdout).toMatch(/Failed: 1 file\n {2}r\/3\.bin \(on ep2\): PutObject rep2\/r\/3\.bin: /);
    expect(await objectMd5(env, bucket, 'rep2/r/3.bin', env.endpoints[0]!)).toBe(md5(files['r/3.bin']!));

    // sync sees the replica store B lacks (store A has it) and sends it again: both stores whole
    const r3 = await runCli(env, ['sync', t, bucket, 'rep2', '--mode', 'replicate', '--endpoint-url', env.endpoints[0]!, '--endpoint-url', storeB,
      '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(r3.code, r3.stdout + r3.stderr).toBe(0);
    expect(r3.stdout).toMatch(/Plan: 0 new, 1 changed, 21 unchanged/);
    expect(await objectMd5(env, bucket, 'rep2/r/3.bin', storeB)).toBe(md5(files['r/3.bin']!));
  });
});

describe('fallback reads', () => {
  it('find an object that only the second store has (pool mode does not)', async () => {
    expect(storeBUrl, 'the replicate suite starts store B').toBeDefined();
    const s3b = client(env, storeBUrl);
    try {
      await s3b.send(new PutObjectCommand({ Bucket: bucket, Key: 'onlyb/report.txt', Body: 'only on B' }));
    } finally {
      s3b.destroy();
    }
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-fallback-'));
    trees.push(out);
    const eps = ['--endpoint-url', env.endpoints[0]!, '--endpoint-url', storeBUrl!];
    const fallback = await runCli(env, ['download', bucket, 'onlyb', path.join(out, 'f'), ...eps, '--mode', 'fallback']);
    expect(fallback.stderr).toBe('');
    expect(fallback.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'f', 'report.txt'), 'utf8')).toBe('only on B');
    // in pool mode the endpoints are assumed to hold the same data: A's empty listing is the answer
    const pool = await runCli(env, ['download', bucket, 'onlyb', path.join(out, 'p'), '--endpoint-url', env.endpoints[0]!]);
    expect(pool.code).toBe(0);
    expect(fs.existsSync(path.join(out, 'p', 'report.txt'))).toBe(false);
  });
});

describe('deletes and listings in replicate and fallback modes', () => {
  const both = (): string[] => ['--endpoint-url', env.endpoints[0]!, '--endpoint-url', storeBUrl!];
  async function seed(endpoint: string, keys: readonly string[]): Promise<void> {
    const s3 = client(env, endpoint);
    try {
      for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
    } finally {
      s3.destroy();
    }
  }
  /** every key under `prefix` on one store, listed with the SDK on that store only */
  async function keysOn(endpoint: string, prefix: string): Promise<string[]> {
    const s3 = client(env, endpoint);
    try {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    } finally {
      s3.destroy();
    }
  }
  const A = (): string => env.endpoints[0]!;
  const B = (): string => storeBUrl!;

  it('replicate: a paged listing is the union of the stores, no store given the other\'s token', async () => {
    expect(storeBUrl, 'the replicate suite starts store B').toBeDefined();
    await seed(A(), ['lt/a1', 'lt/a2']);
    await seed(B(), ['lt/b1', 'lt/b2']);
    const r = await runCli(env, ['ls', bucket, 'lt', '--recursive', '--page-size', '1', '--mode', 'replicate', '--strategy', 'round-robin', ...both(), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const keys = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec).filter((x) => x.type === 'object').map((x) => x.key);
    expect(keys).toEqual(['lt/a1', 'lt/a2', 'lt/b1', 'lt/b2']);
  });

  it('replicate: delete-prefix deletes on every store, reports each; a store that fails is named and its keys are not counted', async () => {
    const common = Array.from({ length: 5 }, (_, i) => `rd/${i}.txt`);
    await seed(A(), [...common, 'rd/onlyA.txt', 'rd-other/x.txt', 'rd.txt']);
    await seed(B(), [...common, 'rd/onlyB.txt', 'rd-other/x.txt', 'rd.txt']);
    const r = await runCli(env, ['delete-prefix', bucket, 'rd', '--mode', 'replicate', ...both(), '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec).at(-1) as unknown as { deleted: number; failedCount: number; endpoints: Summary['endpoints'] };
    expect(s.deleted).toBe(7);
    expect(s.failedCount).toBe(0);
    expect(s.endpoints.map((e) => [e.name, e.filesOk, e.filesFailed])).toEqual([['ep1', 7, 0], ['ep2', 7, 0]]);
    for (const store of [A(), B()]) {
      expect(await keysOn(store, 'rd'), store).toEqual(['rd-other/x.txt', 'rd.txt']);
    }

    // store B cannot be reached for deletes: its keys stay, are named with the store, and count as not deleted
    await seed(A(), ['rf/1.txt', 'rf/2.txt']);
    await seed(B(), ['rf/1.txt', 'rf/2.txt']);
    const proxyB = await startFaultProxy({ target: B(), faults: { match: /^(POST|DELETE) /, resetEvery: 1 } });
    proxies.push(proxyB);
    const f = await runCli(env, ['delete-prefix', bucket, 'rf', '--mode', 'replicate', '--endpoint-url', A(), '--endpoint-url', proxyB.url, '--retries', '1']);
    expect(f.code).toBe(1);
    expect(f.stdout).toMatch(/^Deleted 0 objects/m);
    expect(f.stdout).toMatch(/Stores: ep1 2 deleted; ep2 0 deleted, 2 FAILED/);
    expect(f.stdout).toMatch(/ {2}rf\/1\.txt: on ep2: /);
    expect(await keysOn(A(), 'rf/')).toEqual([]);
    expect(await keysOn(B(), 'rf/')).toEqual(['rf/1.txt', 'rf/2.txt']);
  });

  it('replicate: sync --delete removes the remote-only keys from every store', async () => {
    await seed(A(), ['sd/extraA.txt']);
    await seed(B(), ['sd/extraB.txt']);
    const t = tree({ 'keep.txt': 'keep' });
    const r = await runCli(env, ['sync', t, bucket, 'sd', '--mode', 'replicate', ...both(), '--delete']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Deleted: 2/);
    for (const store of [A(), B()]) expect(await keysOn(store, 'sd/'), store).toEqual(['sd/keep.txt']);
  });

  it('fallback: delete-prefix and sync --delete are refused with one line, exit 2, nothing touched', async () => {
    await seed(A(), ['fd/a.txt']);
    await seed(B(), ['fd/b.txt']);
    const d = await runCli(env, ['delete-prefix', bucket, 'fd', '--mode', 'fallback', ...both()]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/^s3x: error: --mode fallback: deletes are refused[^\n]*\n$/);
    const t = tree({ 'new.txt': 'new' });
    const sy = await runCli(env, ['sync', t, bucket, 'fd', '--mode', 'fallback', ...both(), '--delete']);
    expect(sy.code).toBe(2);
    expect(sy.stderr).toMatch(/^s3x: error: --mode fallback: deletes are refused[^\n]*\n$/);
    expect(await keysOn(A(), 'fd/')).toEqual(['fd/a.txt']);
    expect(await keysOn(B(), 'fd/')).toEqual(['fd/b.txt']);
  });

  it('replicate and fallback: cleanup-multipart aborts each store\'s own stale uploads there', async () => {
    const open = async (endpoint: string, key: string): Promise<void> => {
      const s3 = client(env, endpoint);
      try { await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })); } finally { s3.destroy(); }
    };
    const openOn = async (endpoint: string): Promise<string[]> => {
      const s3 = client(env, endpoint);
      try { return ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp' }))).Uploads ?? []).map((u) => u.Key!).sort(); } finally { s3.destroy(); }
    };
    for (const mode of ['replicate', 'fallback']) {
      await open(A(), 'mp/a.bin');
      await open(B(), 'mp/b.bin');
      await open(B(), 'mp-other/c.bin');
      const r = await runCli(env, ['cleanup-multipart', bucket, 'mp', '--older-than', '0s', '--mode', mode, ...both()]);
      expect(r.stderr, mode).toBe('');
      expect(r.code, mode).toBe(0);
      expect(r.stdout, mode).toMatch(/: 2; aborted 2;/);
      expect(await openOn(A()), mode).toEqual([]);
      expect(await openOn(B()), mode).toEqual(['mp-other/c.bin']);
      const s3 = client(env, B());
      try {
        const u = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'mp-other/' }))).Uploads ?? [];
        for (const x of u) await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: x.Key!, UploadId: x.UploadId! }));
      } finally { s3.destroy(); }
    }
  });
});

describe('s3x endpoints check', () => {
  it('reports each endpoint and exits 1 when one fails', async () => {
    const ok = await runCli(env, ['endpoints', 'check', bucket, ...env.endpoints.flatMap((e) => ['--endpoint-url', e])]);
    expect(ok.code).toBe(0);
    expect(ok.stdout.match(/│ ok +│$/gm)).toHaveLength(env.endpoints.length);
    const bad = await runCli(env, ['endpoints', 'check', 'no-such-bucket-s3x', '--endpoint-url', env.endpoints[0]!, '--endpoint-url', 'http://127.0.0.1:9', '--json']);
    expect(bad.code).toBe(1);
    const rows = bad.stdout.trim().split('\n').map((l) => JSON.parse(l) as Rec);
    expect(rows[0]).toMatchObject({ reachable: true, credentialsValid: true, bucketAccess: 'missing', ok: false });
    expect(rows[1]).toMatchObject({ reachable: false, ok: false, problem: 'unreachable: ECONNREFUSED' });
    const creds = await runCli(env, ['endpoints', 'check', '--endpoint-url', env.endpoints[0]!], { env: { AWS_SECRET_ACCESS_KEY: 'nope' } });
    expect(creds.code).toBe(1);
    expect(creds.stdout).toMatch(/FAIL: credentials rejected: SignatureDoesNotMatch/);
  });
});
