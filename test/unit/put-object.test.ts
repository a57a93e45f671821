/**
 * One PutObject (src/ops/put-object.ts putFile) against a fake store that refuses a body not
 * matching its Content-MD5 (BadDigest) and answers the body's MD5 as its ETag: a file from 1 MiB
 * is hashed off the main thread (src/fs/read-hash.ts) and sent as a FileRange read afresh, its
 * MD5 the Content-MD5; a smaller one is read here into the buffer sent; a file shorter than
 * walked, or changed between its hash and the send, is FileChanged and not sent again.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ESTIMATOR, type RetryConfig } from '../../src/config/defaults.js';
import { Endpoint } from '../../src/endpoints/endpoint.js';
import { EndpointPool } from '../../src/endpoints/pool.js';
import type { PutObjectInput, PutOutput } from '../../src/endpoints/store.js';
import { Limiter } from '../../src/engine/limiter.js';
import { RequestEngine } from '../../src/engine/request.js';
import { FileRange } from '../../src/fs/file-range.js';
import { readHashPool } from '../../src/fs/read-hash.js';
import type { FileEntry } from '../../src/fs/walk.js';
import { silentLogger } from '../../src/logger.js';
import { putFile } from '../../src/ops/put-object.js';
import type { SendContext } from '../../src/ops/stored-object.js';
import { bodyBytes } from '../support/body-bytes.js';
import { FakeStore, s3Error } from '../support/fake-store.js';

const MIB = 1024 * 1024;
const md5 = (b: Buffer): Buffer => crypto.createHash('md5').update(b).digest();

/** Checks the body against its Content-MD5 and answers its MD5 as the ETag, as a store does. */
class Md5Store extends FakeStore {
  override async putObject(p: unknown, signal: AbortSignal): Promise<PutOutput> {
    await super.putObject(p, signal);
    const { body, contentMd5 } = p as PutObjectInput;
    const bytes = await bodyBytes(body);
    if (contentMd5 !== md5(bytes).toString('base64')) throw s3Error('BadDigest', 400);
    return { etag: `"${md5(bytes).toString('hex')}"` };
  }
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 's3x-put-object-')); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cleanups: Array<() => unknown> = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

function file(name: string, bytes: Buffer): FileEntry {
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  const st = fs.statSync(p);
  return { path: p, rel: name, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
}

function setup(store: FakeStore): SendContext {
  const ep = new Endpoint({
    name: store.name, url: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 's', pathStyle: true,
    weight: 1, breaker: { threshold: 5, cooldownMs: 60_000 },
  }, { maxConcurrent: 8, estimator: DEFAULT_ESTIMATOR }, silentLogger, store);
  const pool = new EndpointPool([ep], { mode: 'pool', strategy: 'round-robin', bucketMap: [], sharedStorage: true });
  cleanups.push(() => pool.destroy());
  const retry: RetryConfig = { retries: 3, backoffBaseMs: 1, backoffCapMs: 5 };
  return {
    engine: new RequestEngine(pool, retry, new AbortController().signal, silentLogger),
    cleanup: new RequestEngine(pool, { ...retry, retries: 2 }, new AbortController().signal, silentLogger),
    slots: new Limiter(8), bucket: 'b', logger: silentLogger, verify: false,
  };
}

const puts = (store: FakeStore): PutObjectInput[] => store.calls.filter((c) => c.op === 'putObject').map((c) => c.input as PutObjectInput);

describe('putFile', () => {
  it('a file of 1 MiB or more is hashed off the main thread and sent as its FileRange, that MD5 the Content-MD5', async () => {
    const hash = vi.spyOn(readHashPool, 'hashRange');
    cleanups.push(() => hash.mockRestore());
    const bytes = crypto.randomBytes(2 * MIB + 5);
    const f = file('two-mib.bin', bytes);
    const store = new Md5Store();
    await putFile(setup(store), f, 'k/two-mib.bin', undefined);

    expect(hash.mock.calls).toEqual([[f.path, 0, f.size]]);
    const [sent] = puts(store);
    expect(sent!.body).toEqual(new FileRange(f.path, 0, f.size));
    expect((await bodyBytes(sent!.body)).equals(bytes)).toBe(true);
    expect(sent!.contentMd5).toBe(md5(bytes).toString('base64'));
  });

  it('a smaller file is read here into the buffer sent, with its Content-MD5', async () => {
    const hash = vi.spyOn(readHashPool, 'hashRange');
    cleanups.push(() => hash.mockRestore());
    const bytes = crypto.randomBytes(300 * 1024);
    const store = new Md5Store();
    await putFile(setup(store), file('small.bin', bytes), 'k/small.bin', undefined);
    expect(hash).not.toHaveBeenCalled();
    const [sent] = puts(store);
    expect(Buffer.isBuffer(sent!.body) && sent!.body.equals(bytes)).toBe(true);
    expect(sent!.contentMd5).toBe(md5(bytes).toString('base64'));
  });

  for (const [what, change] of [
    ['rewritten (same size: BadDigest)', (p: string, n: number) => fs.writeFileSync(p, crypto.randomBytes(n))],
    ['cut short (the read ends early)', (p: string, n: number) => fs.truncateSync(p, n - 100)],
  ] as const) {
    it(`a file ${what} between its hash and the send: FileChanged, sent once, not retried`, async () => {
      const f = file(`changed-${what.length}.bin`, crypto.randomBytes(2 * MIB));
      const real = readHashPool.hashRange.bind(readHashPool);
      const hash = vi.spyOn(readHashPool, 'hashRange').mockImplementation(async (p, start, len) => {
        const digest = await real(p, start, len);
        change(p, f.size);
        return digest;
      });
      cleanups.push(() => hash.mockRestore());
      const store = new Md5Store();
      const err = await putFile(setup(store), f, 'k/changed.bin', undefined).catch((e: unknown) => e);
      expect(err).toMatchObject({ facts: { code: 'FileChanged' } });
      expect((err as Error).message).toContain('changed while it was being uploaded');
      expect(puts(store)).toHaveLength(1);
    });
  }

  it('a file shorter than walked when hashed: FileChanged, nothing sent', async () => {
    const f = file('shrank.bin', crypto.randomBytes(2 * MIB));
    const store = new Md5Store();
    const err = await putFile(setup(store), { ...f, size: f.size + 10 }, 'k/shrank.bin', undefined).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FileChanged' });
    expect(puts(store)).toHaveLength(0);
  });
});
