/**
 * Multipart parts read and hashed on a worker thread (src/fs/read-hash.ts), against the gateway
 * through the fault proxy: every UploadPart attempt carries the Content-MD5 of its own byte range
 * (retries too), as does a PutObject of 2 MiB, read the same way; a corrupted body is refused by the server and resent byte-exact, and every
 * object arrives byte-exact.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { makeBucket, makeTree, ndjson, objectMd5, runCli, type S3TestEnv } from '../support/s3.js';

const env: S3TestEnv = inject('s3');
const MIB = 1024 * 1024;
const PART = 5 * MIB;

let bucket: string;
let drop: () => Promise<void>;
let tree: string;
let proxy: FaultProxy | undefined;
const files: Record<string, Buffer> = {
  'a.bin': crypto.randomBytes(3 * PART + 3), // 4 parts, the last of 3 bytes
  'b.bin': crypto.randomBytes(2 * PART + 777), // 3 parts
  'c.bin': crypto.randomBytes(PART), // 1 part, exactly
  'd.bin': crypto.randomBytes(2 * MIB + 1), // one PutObject, read and hashed off the main thread too
};
const md5 = (b: Buffer, enc: 'hex' | 'base64'): string => crypto.createHash('md5').update(b).digest(enc);

beforeAll(async () => {
  ({ bucket, drop } = await makeBucket(env, 'q-parts'));
  tree = makeTree(files);
});

afterAll(async () => {
  await proxy?.close();
  await drop?.();
  if (tree) fs.rmSync(tree, { recursive: true, force: true });
});

describe('multipart parts hashed off the main thread', () => {
  it('every UploadPart and PutObject attempt carries the Content-MD5 of its bytes; corrupted bodies are resent; objects byte-exact', async () => {
    proxy = await startFaultProxy({ target: env.endpoints[0]!, faults: { match: /^PUT /, corruptEvery: 3 } });
    const r = await runCli(env, ['upload', tree, bucket, 'parts', '--endpoint-url', proxy.url, '-c', '6',
      '--multipart-threshold', '5MiB', '--part-size', '5MiB', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(proxy.stats().corrupted).toBeGreaterThanOrEqual(2);

    const log = proxy.requestLog();
    const md5s = proxy.contentMd5Log();
    const partPuts = log.flatMap((line, i) => {
      const m = /^PUT \/[^/]+\/parts\/([^?]+)\?partNumber=(\d+)&/.exec(line);
      return m ? [{ file: m[1]!, part: Number(m[2]), contentMd5: md5s[i] }] : [];
    });
    const objectPuts = log.flatMap((line, i) => (/^PUT \/[^/]+\/parts\/d\.bin$/.test(line) ? [md5s[i]] : []));
    // 8 parts and one PutObject, one more attempt per corrupted one, and any other retry or hedge
    // (a part cut by its deadline or hedged on a loaded machine: CI once saw 14 for 9 + 4 corrupted)
    const puts = ndjson<{ type: string; op?: string; attempts?: number; hedged?: number }>(r.stdout)
      .filter((x) => x.type === 'request' && (x.op === 'UploadPart' || x.op === 'PutObject'));
    const retries = puts.reduce((n, x) => n + x.attempts! - 1, 0);
    const hedges = puts.reduce((n, x) => n + x.hedged!, 0);
    // a corrupted attempt is followed by a retry, unless it was a hedge or a hedge of it answered
    expect(retries + hedges).toBeGreaterThanOrEqual(proxy.stats().corrupted);
    expect(partPuts.length + objectPuts.length).toBe(9 + retries + hedges);
    expect(objectPuts.length).toBeGreaterThanOrEqual(1);
    for (const m of objectPuts) expect(m, 'd.bin').toBe(md5(files['d.bin']!, 'base64'));
    for (const p of partPuts) {
      const start = (p.part - 1) * PART;
      expect(p.contentMd5, `${p.file} part ${p.part}`).toBe(md5(files[p.file]!.subarray(start, start + PART), 'base64'));
    }
    for (const [rel, content] of Object.entries(files)) {
      expect(await objectMd5(env, bucket, `parts/${rel}`), rel).toBe(md5(content, 'hex'));
    }
  });
});
