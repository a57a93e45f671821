/**
 * Hedged requests end to end (issue 14), through the fault proxy (test/support/fault-proxy.ts) in
 * front of a real gateway: a stalled PUT or GET is hedged and the hedge wins (the stalled copy
 * aborted, every object once and byte-exact), the budget holds when every request stalls, no
 * control call is ever sent twice, `--no-hedge` sends none, and a versioned bucket gets no write
 * hedges. Counts only, no timed assertions. The estimator needs 100 requests before it hedges
 * (src/config/defaults.ts DEFAULT_TAIL): every run starts with that many quick ones.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DeleteBucketCommand, DeleteObjectsCommand, GetBucketVersioningCommand, ListObjectVersionsCommand, PutBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy, type FaultSpec } from '../support/fault-proxy.js';
import { client, listAll, makeBucket, makeTree, objectMd5, runCli, ndjson, eventually, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
/** quick requests before the stall: the estimator hedges from the 100th on */
const WARM = 130;

let bucket: string;
let drop: () => Promise<void>;
const files: Record<string, Buffer> = {};
let tree: string;
const proxies: FaultProxy[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'hedge'));
  for (let i = 0; i < WARM + 20; i++) files[`f${String(i).padStart(3, '0')}.bin`] = crypto.randomBytes(1000 + i);
  tree = makeTree(files);
  dirs.push(tree);
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await drop?.();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

type Rec = { type: string; op?: string; key?: string; attempts?: number; hedged?: number; hedgeWon?: boolean | number; hedgeBytes?: number; requests?: number; retries?: number; deadlinesMs?: number[]; cutMs?: number; part?: number; startMs?: number; totalMs?: number };

async function proxy(faults: FaultSpec): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: env.endpoints[0]!, faults });
  proxies.push(p);
  return p;
}

const records = (stdout: string): Rec[] => ndjson<Rec>(stdout);

async function expectExact(b: string, prefix: string, want: Record<string, Buffer>): Promise<void> {
  const listed = await listAll(env, b, prefix);
  expect(listed.map((o) => o.Key).sort()).toEqual(Object.keys(want).map((k) => `${prefix}${k}`).sort());
  for (const [rel, content] of Object.entries(want)) {
    expect(await objectMd5(env, b, `${prefix}${rel}`), rel).toBe(crypto.createHash('md5').update(content).digest('hex'));
  }
}

/** Stall one late PUT (the 140th: after WARM quick ones); its hedge or retry is the 141st or later. */
const stallLatePut = (): FaultSpec => ({ match: /^PUT /, stallEvery: 140 });

describe('hedged requests', () => {
  it('a stalled PUT is hedged, the hedge wins, the stalled copy is aborted; every object once, byte-exact', async () => {
    const p = await proxy(stallLatePut());
    const r = await runCli(env, ['upload', tree, bucket, 'win', '--endpoint-url', p.url, '--json', '-c', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const recs = records(r.stdout);
    const summary = recs.at(-1)!;
    // the stalled copy never answered; its hedge did, in the first attempt
    expect(p.stats().stalled).toBe(1);
    const won = recs.filter((x) => x.type === 'request' && x.hedgeWon === true);
    expect(won.length).toBeGreaterThanOrEqual(1);
    // a small request's hedge as slow as its first copy gets one of its own: 1 or 2 hedges
    for (const x of won) {
      expect(x).toMatchObject({ attempts: 1 });
      expect([1, 2]).toContain(x.hedged);
    }
    expect(summary.retries).toBe(0);
    expect(summary.hedged).toBeLessThanOrEqual(Math.floor(0.05 * summary.requests!) + 10);
    // the client closed the stalled connection itself (aborted), not the proxy at its end
    expect(await eventually(() => p.stats().stalledClosedByClient === 1)).toBe(true);
    await expectExact(bucket, 'win/', files);
  });

  it('a stalled GET is hedged; only the winner reaches the file: every file byte-exact, nothing else in the directory', async () => {
    // the objects uploaded by the test above
    // object GETs only (the listing's path has a query): the 140th stalls
    const p = await proxy({ match: /^GET \/[^/?]+\/win\//, stallEvery: 140 });
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-hedge-dl-'));
    dirs.push(out);
    const r = await runCli(env, ['download', bucket, 'win', out, '--endpoint-url', p.url, '--json', '-c', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const recs = records(r.stdout);
    expect(p.stats().stalled).toBe(1);
    const won = recs.filter((x) => x.type === 'request' && x.op === 'GetObject' && x.hedgeWon === true);
    expect(won.length).toBeGreaterThanOrEqual(1);
    for (const x of won) {
      expect(x).toMatchObject({ attempts: 1 });
      expect([1, 2]).toContain(x.hedged);
    }
    expect(await eventually(() => p.stats().stalledClosedByClient === 1)).toBe(true);
    expect(fs.readdirSync(out).sort()).toEqual(Object.keys(files).sort());
    for (const [rel, content] of Object.entries(files)) expect(fs.readFileSync(path.join(out, rel)).equals(content), rel).toBe(true);
  });

  it('--no-hedge sends none: the stalled PUT waits for its deadline and is retried', async () => {
    const p = await proxy(stallLatePut());
    const r = await runCli(env, ['upload', tree, bucket, 'nohedge', '--endpoint-url', p.url, '--json', '-c', '4', '--no-hedge']);
    expect(r.code).toBe(0);
    const recs = records(r.stdout);
    expect(recs.at(-1)).toMatchObject({ hedged: 0, hedgeWon: 0, hedgeBytes: 0 });
    expect(recs.filter((x) => x.type === 'request' && (x.hedged ?? 0) > 0)).toEqual([]);
    // the stalled PUT went again only as a retry after its deadline, not as a hedge: the proxy saw
    // exactly one PUT per attempt reported
    expect(p.stats().stalled).toBe(1);
    expect(recs.at(-1)!.retries).toBeGreaterThanOrEqual(1);
    const attempts = recs.filter((x) => x.type === 'request' && x.op === 'PutObject').reduce((n, x) => n + x.attempts!, 0);
    expect(p.stats().matched).toBe(attempts);
    await expectExact(bucket, 'nohedge/', files);
  });

  it('the budget holds when every request stalls: hedges ≤ 5% of requests + 10', async () => {
    const slow: Record<string, Buffer> = {};
    for (let i = 0; i < WARM; i++) slow[`a${String(i).padStart(3, '0')}.bin`] = crypto.randomBytes(500);
    for (let i = 0; i < 40; i++) slow[`z${String(i).padStart(3, '0')}.bin`] = crypto.randomBytes(500);
    const t = makeTree(slow);
    dirs.push(t);
    // every copy of every z file stalls: each attempt runs past the p95 and would be hedged
    const p = await proxy({ match: /^PUT \/[^/]+\/budget\/z/, stallEvery: 1 });
    const r = await runCli(env, ['upload', t, bucket, 'budget', '--endpoint-url', p.url, '--json', '-c', '4', '--retries', '2']);
    expect(r.code).not.toBe(0); // the z files cannot be stored
    const summary = records(r.stdout).at(-1)!;
    // (the breaker may stop the run before every z file had its 3 attempts)
    expect(p.stats().stalled).toBeGreaterThan(0);
    expect(summary.hedged).toBeGreaterThan(0);
    expect(summary.hedged).toBeLessThanOrEqual(Math.floor(0.05 * summary.requests!) + 10);
  });

  it('a straggler beyond the budget is cut and sent again at once, not left to its deadline: one more copy, byte-exact', async () => {
    const late: Record<string, Buffer> = {};
    for (let i = 0; i < WARM; i++) late[`a${String(i).padStart(3, '0')}.bin`] = crypto.randomBytes(600);
    for (let i = 0; i < 5; i++) late[`z${i}.bin`] = crypto.randomBytes(700 + i);
    const t = makeTree(late);
    dirs.push(t);
    // one request at a time: each z file's first copy stalls and every later copy answers (by path:
    // a hedge slow enough under load to get a hedge of its own does not shift which copy stalls)
    const p = await proxy({ match: /^PUT \/[^/]+\/cutresend\/z/, stallFirstPerPath: true });
    const r = await runCli(env, ['upload', t, bucket, 'cutresend', '--endpoint-url', p.url, '--json', '-c', '1', '--hedge-budget', '0.1%']);
    expect(r.code).toBe(0);
    const z = records(r.stdout).filter((x) => x.type === 'request' && /\/z\d\.bin$/.test(x.key ?? ''));
    expect(z).toHaveLength(5);
    // the budget (its reserve) hedged the first ones; the rest were cut and sent again instead
    const resent = z.filter((x) => x.hedged === 0);
    expect(resent.length).toBeGreaterThanOrEqual(1);
    // cut before its first deadline ran out (a deadline's cut and retry would send two copies too)
    for (const x of resent) {
      expect(x.attempts).toBe(2);
      expect(x.cutMs!).toBeLessThan(x.deadlinesMs![0]!);
    }
    // a hedged one won with its first attempt: no cut waited for a deadline and a retry
    for (const x of z.filter((r) => r.hedged! > 0)) expect(x.attempts).toBe(1);
    // every copy the proxy saw is an attempt or a hedge of the run's records, each first copy stalled
    expect(p.stats().stalled).toBe(5);
    expect(p.stats().matched).toBe(z.reduce((n, x) => n + x.attempts! + x.hedged!, 0));
    await expectExact(bucket, 'cutresend/', late);
  });

  it('--hedge-budget: a bad value is refused with one line and exit 2 before anything is sent', async () => {
    for (const bad of ['5', '60%', 'lots']) {
      // port 9 (discard): were anything sent, the message would be about reaching it
      const r = await runCli(env, ['upload', tree, bucket, 'never', '--endpoint-url', 'http://127.0.0.1:9', '--hedge-budget', bad]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/--hedge-budget: .* must be a share of requests above 0 and at most 50%/);
    }
  });

  it('no control call is ever sent twice: multipart Create/Complete and DeleteObjects, answered slowly', async () => {
    const big = { ...Object.fromEntries(Object.entries(files).slice(0, WARM)), 'zz/big.bin': crypto.randomBytes(11 * MIB) };
    const t = makeTree(big);
    dirs.push(t);
    // every POST (Create, Complete, DeleteObjects) answers 1.5 s late: far past any p95, within their own deadlines
    const p = await proxy({ match: /^POST /, responseDelayMs: 1500 });
    const up = await runCli(env, ['upload', t, bucket, 'ctl', '--endpoint-url', p.url, '--json', '-c', '2',
      '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--priority', 'LOW:zz/**']);
    expect(up.code).toBe(0);
    // the proxy saw one POST per reported attempt of Create and Complete (a retry is an attempt, a hedge is not)
    const controlAttempts = (out: string, ops: string[]): number => records(out).filter((x) => x.type === 'request' && ops.includes(x.op!)).reduce((n, x) => n + x.attempts!, 0);
    expect(controlAttempts(up.stdout, ['CreateMultipartUpload', 'CompleteMultipartUpload'])).toBeGreaterThanOrEqual(2);
    expect(p.stats().matched).toBe(controlAttempts(up.stdout, ['CreateMultipartUpload', 'CompleteMultipartUpload']));
    // sync --delete: every small file changed (the upload warms the estimator), then one
    // DeleteObjects removes what is gone
    fs.rmSync(path.join(t, 'zz'), { recursive: true });
    for (const [rel, content] of Object.entries(big)) if (!rel.startsWith('zz/')) fs.writeFileSync(path.join(t, rel), crypto.randomBytes(content.length + 1));
    const before = p.stats().matched;
    const sync = await runCli(env, ['sync', t, `s3://${bucket}/ctl`, '--endpoint-url', p.url, '--delete', '--json', '-c', '2']);
    expect(sync.code).toBe(0);
    expect(controlAttempts(sync.stdout, ['DeleteObjects'])).toBeGreaterThanOrEqual(1);
    expect(p.stats().matched - before).toBe(controlAttempts(sync.stdout, ['DeleteObjects']));
    expect((await listAll(env, bucket, 'ctl/zz/'))).toHaveLength(0);
  });

  it('a versioned bucket gets no write hedges (asked once per run); the log says so', async () => {
    const v = await makeBucket(env, 'hedgever');
    try {
      const s3 = client(env);
      await s3.send(new PutBucketVersioningCommand({ Bucket: v.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      expect((await s3.send(new GetBucketVersioningCommand({ Bucket: v.bucket }))).Status).toBe('Enabled');
      const p = await proxy(stallLatePut());
      const r = await runCli(env, ['upload', tree, v.bucket, 'v', '--endpoint-url', p.url, '--json', '-c', '4', '--log-level', 'info']);
      expect(r.code).toBe(0);
      const summary = records(r.stdout).at(-1)!;
      expect(summary.hedged).toBe(0);
      expect(summary.retries).toBeGreaterThanOrEqual(1); // the stalled PUT was cut by its deadline instead
      expect(r.stderr.match(/bucket versioning is enabled: writes are not hedged/g)).toHaveLength(1);
      // one version per key, and at most one more per retry: a PUT cut by its deadline (the stalled
      // one, or any on a loaded machine: 154 versions for 150 files once) is resent, not hedged
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: v.bucket, Prefix: 'v/' }));
      expect(versions.Versions?.length).toBeGreaterThanOrEqual(Object.keys(files).length);
      expect(versions.Versions?.length).toBeLessThanOrEqual(Object.keys(files).length + summary.retries!);
    } finally {
      await dropVersioned(v.bucket);
    }
  });

  it('a part stalled mid-body early in a run (fewer than 20 parts measured) can be hedged', async () => {
    const big = { 'p/a.bin': crypto.randomBytes(30 * MIB), 'p/b.bin': crypto.randomBytes(30 * MIB) };
    const t = makeTree(big);
    dirs.push(t);
    // the 8th part is sent once 4 have been measured (-c 4): 1 MiB goes up, then nothing
    const p = await proxy({ match: /^PUT .*partNumber=/, stallNth: [8], stallAfterBytes: MIB });
    const r = await runCli(env, ['upload', t, bucket, 'early', '--endpoint-url', p.url, '--json', '-c', '4', '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.stats().stalled).toBe(1);
    const parts = records(r.stdout).filter((x) => x.type === 'request' && x.op === 'UploadPart');
    expect(parts).toHaveLength(12);
    // before, no part of a 12-part run could be hedged (20 measured first), nor the first write
    // that could be (it asked the bucket's versioning); under load another slow part may take the
    // hedges, and the stalled one then waits for its deadline
    // a failure says how each part went (a flake under CI load: 0 hedged, not reproduced by hand)
    const how = parts.map((x) => `${x.key}#${x.part}: ${x.attempts} att, hedged ${x.hedged}, cut ${x.cutMs ?? '-'} ms, deadlines ${x.deadlinesMs?.join('/')}, start ${x.startMs}, total ${x.totalMs}`).join('\n');
    expect(parts.filter((x) => x.hedged! > 0).length, how).toBeGreaterThanOrEqual(1);
    await expectExact(bucket, 'early/', big);
  });

  // A gateway pause: every request in flight is cut at its tail deadline at once. Those cuts must
  // not open the breaker (src/endpoints/breaker.ts STALL_SILENCE_MS): with one endpoint, an open
  // breaker stopped the whole run for its 10 s cooldown, or ended it (AllEndpointsDown).
  it('a 1.5 s gateway pause on a one-endpoint run cuts every request in flight but does not open the breaker', async () => {
    const p = await proxy({ match: /^PUT /, pauseAfter: WARM, pauseMs: 1500 });
    // first deadlines ≤ 1 s, so the pause cuts every request in flight however loaded the machine is
    const r = await runCli(env, ['upload', tree, bucket, 'pause', '--endpoint-url', p.url, '--json', '-c', '16', '--no-hedge', '--max-deadline-ms', '1000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.stats().paused).toBeGreaterThanOrEqual(16);
    const recs = records(r.stdout);
    const summary = recs.at(-1)! as Rec & { endpoints: Array<{ breakerTransitions: Array<{ to: string }> }> };
    // every request in flight when the pause began was cut: 5 or more in a row
    expect(recs.filter((x) => x.type === 'request' && x.attempts! > 1).length).toBeGreaterThanOrEqual(5);
    expect(summary.endpoints[0]!.breakerTransitions).toEqual([]);
    await expectExact(bucket, 'pause/', files);
  });
});

/** Deletes every version of every object, then the bucket (makeBucket's drop deletes keys only). */
async function dropVersioned(b: string): Promise<void> {
  const s3 = client(env);
  try {
    for (let round = 0; round < 100; round++) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: b }));
      const all = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((o) => ({ Key: o.Key!, VersionId: o.VersionId! }));
      if (all.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: all, Quiet: true } }));
    }
    await s3.send(new DeleteBucketCommand({ Bucket: b }));
  } finally {
    s3.destroy();
  }
}
