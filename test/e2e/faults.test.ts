/**
 * Faults between s3x and a real gateway (test/support/fault-proxy.ts): stalled requests are cut
 * by the deadline and retried, resets and 503 SlowDown are retried with a fresh body each time,
 * and every object still arrives byte-exact.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { listAll, makeBucket, makeTree, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
let proxy: FaultProxy | undefined;
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'faults'));
  for (let i = 0; i < 40; i++) files[`small/${i}.bin`] = crypto.randomBytes(1000 + i * 500);
  files['streamed.bin'] = crypto.randomBytes(700 * 1024); // above the 256 KiB buffer limit: a file stream
  files['multi.bin'] = crypto.randomBytes(11 * MIB); // 3 parts of 5 MiB
  tree = makeTree(files);
});

afterAll(async () => {
  await proxy?.close();
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

type Rec = { type: string; op?: string; attempts?: number; successMs?: number; totalMs?: number; retries?: number; hedged?: number; failed?: unknown[]; files?: number };

async function uploadThrough(prefix: string, extra: string[] = []): Promise<{ code: number | null; records: Rec[]; stderr: string }> {
  const r = await runCli(env, ['upload', tree, bucket, prefix, '--endpoint-url', proxy!.url, '--json', '-c', '6',
    '--multipart-threshold', '5MiB', '--part-size', '5MiB', ...extra]);
  return { code: r.code, records: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec), stderr: r.stderr };
}

async function expectAllExact(prefix: string): Promise<void> {
  const listed = await listAll(env, bucket, prefix);
  expect(listed.map((o) => o.Key).sort()).toEqual(Object.keys(files).map((k) => `${prefix}${k}`).sort());
  for (const [rel, content] of Object.entries(files)) {
    expect(await objectMd5(env, bucket, `${prefix}${rel}`), rel).toBe(crypto.createHash('md5').update(content).digest('hex'));
  }
}

describe('s3x upload under faults', () => {
  it('retries resets and 503 SlowDown (honouring Retry-After) with a fresh body each time', async () => {
    proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^PUT /, resetEvery: 5 } });
    const resets = await uploadThrough('reset/');
    expect(resets.stderr).toBe('');
    expect(resets.code).toBe(0);
    expect(proxy.stats().resets).toBeGreaterThanOrEqual(8);
    const summary = resets.records.at(-1)!;
    expect(summary.retries).toBeGreaterThanOrEqual(proxy.stats().resets);
    await expectAllExact('reset/');

    proxy.setFaults({ match: /^PUT /, slowDownEvery: 4, retryAfterSec: 1 });
    // a 5 s first deadline: a PUT cut at the 500 ms floor under load is retried sooner than 1 s
    const slow = await uploadThrough('slow/', ['--min-deadline-ms', '5000']);
    expect(slow.code).toBe(0);
    expect(proxy.stats().slowDowns).toBeGreaterThanOrEqual(10);
    const requests = slow.records.filter((x) => x.type === 'request');
    const retried = requests.filter((x) => (x.attempts ?? 0) > 1);
    // every SlowDown answered a copy that was sent again: a retry, or (a hedge got it) the first
    // copy still running; which PUTs get one shifts with the hedges a loaded machine sends
    const copiesAfter = requests.reduce((n, x) => n + (x.attempts ?? 1) - 1 + (x.hedged ?? 0), 0);
    expect(copiesAfter).toBeGreaterThanOrEqual(proxy.stats().slowDowns);
    expect(retried.length).toBeGreaterThanOrEqual(5);
    // Retry-After: 1 → at least one second between the first attempt and the success
    for (const x of retried) expect(x.totalMs! - x.successMs!).toBeGreaterThanOrEqual(950);
    await expectAllExact('slow/');
    await proxy.close();
    proxy = undefined;
  });

  it('cuts 5% stalled requests near their deadline, retries them, loses nothing', async () => {
    // seeded: the same requests stall on every run; default deadlines (min 500 ms, backoff 2)
    proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^PUT /, stallFraction: 0.05, seed: 7 } });
    const r = await uploadThrough('stall/');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const stalled = proxy.stats().stalled;
    expect(stalled).toBeGreaterThanOrEqual(1);
    const puts = r.records.filter((x) => x.type === 'request' && (x.op === 'PutObject' || x.op === 'UploadPart'));
    // every stalled attempt, and nothing else, cost exactly one retry, unless it was a part's
    // hedge or a hedge of it answered (5 MiB parts may be hedged early in a run)
    const hedged = r.records.at(-1)!.hedged!;
    const retries = puts.reduce((n, x) => n + x.attempts! - 1, 0);
    expect(retries).toBeLessThanOrEqual(stalled);
    expect(retries + hedged).toBeGreaterThanOrEqual(stalled);
    const retried = puts.filter((x) => x.attempts! > 1);
    expect(retried.length).toBeGreaterThanOrEqual(1);
    for (const x of retried) {
      // cut at its deadline (≥ the 500 ms floor), and far below any SDK or aws-cli timeout (60 s)
      expect(x.totalMs! - x.successMs!).toBeGreaterThanOrEqual(490);
      expect(x.totalMs!).toBeLessThan(15_000);
    }
    expect(r.records.at(-1)!.retries).toBe(retries);
    await expectAllExact('stall/');
  });

  it('fails at once, without retries, on wrong credentials', async () => {
    await proxy?.close();
    proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: {} });
    const r = await runCli(env, ['upload', tree, bucket, 'creds', '--endpoint-url', proxy.url], { env: { AWS_SECRET_ACCESS_KEY: 'not-the-secret' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^s3x: error: credentials rejected by http:\/\/127\.0\.0\.1:\d+: the secret key does not match \(SignatureDoesNotMatch\)\n$/);
    expect(proxy.stats().requests).toBe(1);
  });

  it('a body corrupted in transit is refused by the server (Content-MD5) and resent: byte-exact', async () => {
    await proxy?.close();
    proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^PUT /, corruptEvery: 3 } });
    // a 5 s first deadline (42 files: the floor applies to every request): under load a PUT past
    // the 500 ms floor was cut and retried too, which is not what this test is about
    const r = await uploadThrough('corrupt/', ['--verify', '--min-deadline-ms', '5000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const corrupted = proxy.stats().corrupted;
    expect(corrupted).toBeGreaterThanOrEqual(10);
    // every corrupted attempt was refused and cost one retry (unless it was a hedge, or a hedge
    // of it answered); nothing else did
    const { retries, hedged } = r.records.at(-1)!;
    expect(retries).toBeLessThanOrEqual(corrupted);
    expect(retries! + hedged!).toBeGreaterThanOrEqual(corrupted);
    await expectAllExact('corrupt/');
  });

  it('gives up after --retries and names the file (exit 1), the rest arrives', async () => {
    await proxy?.close();
    // every PUT of this one key is reset: it can never succeed
    proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^PUT \/[^/]+\/giveup\/small\/7\.bin/, resetEvery: 1 } });
    const r = await runCli(env, ['upload', tree, bucket, 'giveup', '--endpoint-url', proxy.url, '--retries', '2',
      '--multipart-threshold', '5MiB', '--part-size', '5MiB']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Failed: 1 file\n {2}small\/7\.bin: PutObject giveup\/small\/7\.bin: /);
    expect(proxy.stats().resets).toBe(3); // first attempt + 2 retries
    const listed = await listAll(env, bucket, 'giveup/');
    expect(listed).toHaveLength(Object.keys(files).length - 1);
  });
});
