/**
 * A large object whose ETag is its MD5 (one PUT), downloaded with the default thresholds: one GET
 * streamed to disk and hashed as it is written (ops/fetch-mode.ts), not ranged parts whose bytes
 * may have to be read back to hash. `--no-verify` and a given `--multipart-threshold` keep ranged
 * parts. A corrupted body fails the MD5 and leaves no file; a body stalled mid-way is cut by its
 * deadline and fetched again whole. Counts only, no timed assertions.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy, type FaultSpec } from '../support/fault-proxy.js';
import { makeBucket, runCli, ndjson, type S3TestEnv } from '../support/s3.js';
import { putObjects } from '../support/seed.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
/** one byte past the 64 MiB default threshold: 5 ranged parts of 16 MiB when ranged */
const BIG = 64 * MIB + 1;

let bucket: string;
let drop: () => Promise<void>;
const objects: Record<string, Buffer> = {};
const proxies: FaultProxy[] = [];
const dirs: string[] = [];

type Rec = { type: string; op?: string; key?: string; part?: number; attempts?: number; retries?: number };

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'dlverified'));
  objects['big.bin'] = crypto.randomBytes(BIG);
  objects['small.txt'] = crypto.randomBytes(1000);
  await putObjects(env, bucket, Object.entries(objects).map(([k, b]) => [`v/${k}`, b] as const), 2);
}, 120_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await drop?.();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const records = (stdout: string): Rec[] => ndjson<Rec>(stdout);

function outDir(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-dl-verified-'));
  dirs.push(out);
  return out;
}

async function proxy(faults: FaultSpec): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: env.endpoints[0]!, faults });
  proxies.push(p);
  return p;
}

/** The GetObject records of big.bin. */
const bigGets = (recs: Rec[]): Rec[] => recs.filter((x) => x.type === 'request' && x.op === 'GetObject' && x.key === 'v/big.bin');

/** Exactly `want`'s files, byte-exact: nothing else (no temporary file) in the directory. */
function expectFiles(out: string, want: Record<string, Buffer>): void {
  expect(fs.readdirSync(out).sort()).toEqual(Object.keys(want).sort());
  for (const [rel, content] of Object.entries(want)) expect(fs.readFileSync(path.join(out, rel)).equals(content), rel).toBe(true);
}

describe('download of a large object whose ETag is its MD5', () => {
  it('default thresholds: one streamed GET, hashed as written, byte-exact; --no-verify or a given --multipart-threshold: ranged parts', async () => {
    const out = outDir();
    const r = await runCli(env, ['download', bucket, 'v', out, '--endpoint-url', env.endpoints[0]!, '--json', '-c', '4']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(bigGets(records(r.stdout))).toMatchObject([{ attempts: 1 }]);
    expect(bigGets(records(r.stdout))[0]!.part).toBeUndefined();
    expectFiles(out, objects);

    for (const extra of [['--no-verify'], ['--multipart-threshold', '64MiB']]) {
      const out2 = outDir();
      const r2 = await runCli(env, ['download', bucket, 'v', out2, '--endpoint-url', env.endpoints[0]!, '--json', '-c', '4', ...extra]);
      expect(r2.code, extra.join(' ')).toBe(0);
      expect(bigGets(records(r2.stdout)).map((x) => x.part).sort(), extra.join(' ')).toEqual([1, 2, 3, 4, 5]);
      expectFiles(out2, objects);
    }
  });

  it('sync s3://… <dir> fetches it the same way: one streamed GET with the default thresholds, ranged parts with a given one', async () => {
    for (const [extra, parts] of [[[], [undefined]], [['--multipart-threshold', '64MiB'], [1, 2, 3, 4, 5]]] as const) {
      const out = outDir();
      const r = await runCli(env, ['sync', `s3://${bucket}/v`, out, '--endpoint-url', env.endpoints[0]!, '--json', '-c', '4', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      expect(bigGets(records(r.stdout)).map((x) => x.part).sort(), extra.join(' ')).toEqual(parts);
      expectFiles(out, objects);
    }
  });

  it('a body corrupted in transit every time fails the MD5 after its retry: named, no file and no temporary file left', async () => {
    const p = await proxy({ match: /^GET \/[^/?]+\/v\/big\.bin/, corruptResponseEvery: 1 });
    const out = outDir();
    const r = await runCli(env, ['download', bucket, 'v', out, '--endpoint-url', p.url, '--json', '-c', '4', '--retries', '1']);
    expect(r.code).toBe(1);
    const recs = records(r.stdout);
    // one whole-object GET, tried twice: both answers corrupted
    expect(bigGets(recs)).toHaveLength(1);
    expect(bigGets(recs)[0]!.part).toBeUndefined();
    expect(p.stats().matched).toBe(2);
    expect(JSON.stringify(recs.at(-1))).toMatch(/GetObject v\/big\.bin: BadDigest \(v\/big\.bin: MD5 of the bytes received is [0-9a-f]{32}, the ETag says [0-9a-f]{32}/);
    expectFiles(out, { 'small.txt': objects['small.txt']! });
  });

  it('a body stalled mid-way is cut by its deadline and fetched again from its first byte: byte-exact, no temporary file', async () => {
    const p = await proxy({ match: /^GET \/[^/?]+\/v\/big\.bin/, stallNth: [1], stallAfterBytes: 8 * MIB });
    const out = outDir();
    const r = await runCli(env, ['download', bucket, 'v', out, '--endpoint-url', p.url, '--json', '-c', '4', '--no-hedge', '--max-deadline-ms', '4000']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.stats().stalled).toBe(1);
    expect(bigGets(records(r.stdout))).toMatchObject([{ attempts: 2 }]);
    expect(bigGets(records(r.stdout))[0]!.part).toBeUndefined();
    expectFiles(out, objects);
  });
});
